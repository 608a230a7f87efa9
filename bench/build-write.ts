/**
 * The rebuild's fenced write alone (RedisOnlineStore.writeNewRows into a layout-2 generation
 * whose fence is open): Redis CPU (/proc of the server, and INFO commandstats) and this
 * process's CPU per row, for the same rows, alternating the paths `--rounds` times on fresh keys,
 * each keeping the count of the generation's row keys. Prints JSON.
 *
 *   npm run bench -- build-write [--rows 200000] [--chunk 2000] [--in-flight 2] [--rounds 3] [--paths arrow,arrow-script,values]
 *
 * Rows: 10 float64 features, event times an hour old, chunks of `--chunk` entities written as
 * buildPartition writes them (`--in-flight` writeNewRows calls at once). `arrow`: rows from Arrow
 * tables as arrowOnlineColumns gives them (packed by packArrowRows), what a rebuild's build sends,
 * written plainly (fenced-plain-write.ts: MULTI, SET ... GET per row, EXEC; a Redis Cluster cannot);
 * `arrow-script`: the same with `plainBuildWrite: false`, each call's rows in one argument of
 * PACKED_FRESH_WRITE_BLOB_LUA (what a Cluster does); `values`: the same rows as JS values,
 * without an Arrow source (packed by packColumns), written plainly. `packingCpuUsPerRow`:
 * packArrowRows alone, the part of the `arrow` paths' client CPU that is not the write. Redis CPU is the server's whole
 * process: run it on a quiet Redis. To compare `arrow` with an earlier build write from Arrow
 * (session 11 measured an expiry and a row argument per row against the blob), run this file
 * in a checkout of that code, alternating with this one. (Session 9's version on branch
 * rebuild9 compared a MULTI/EXEC path, from JS values.)
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tableFromArrays } from 'apache-arrow';
import { Redis } from 'ioredis';
import { localStack } from '../config/local-stack.ts';
import type { OnlineColumns, OnlineTarget } from '../stores/online/online-store.ts';
import { RedisOnlineStore } from '../stores/online/redis-online-store.ts';
import { packArrowRows } from '../stores/online/arrow-row-packer.ts';
import { PackedRowCodec } from '../stores/online/packed-row-codec.ts';
import { deleteByPattern } from './support/redis-ceiling.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    chunk: { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    paths: { type: 'string', default: 'arrow,arrow-script' },
    url: { type: 'string', default: localStack().redis.url },
  },
});
const rows = Number(args.rows);
const chunk = Number(args.chunk);
const inFlight = Number(args['in-flight']);
const rounds = Number(args.rounds);
const features = Array.from({ length: 10 }, (_, f) => ({ name: `f${f}`, type: 'float64' as const }));
const ALL_PATHS = ['arrow', 'arrow-script', 'values'] as const;
type Path = (typeof ALL_PATHS)[number];
const PATHS = args.paths!.split(',') as Path[];
for (const path of PATHS) if (!ALL_PATHS.includes(path)) throw new RangeError(`--paths: '${path}' is none of ${ALL_PATHS.join(', ')}`);

const raw = new Redis(args.url!);
const redisPid = Number(/process_id:(\d+)/.exec(await raw.info('server'))![1]);
/** The Redis server's CPU so far, ms (utime + stime from /proc; clock ticks of 10 ms). */
const redisCpuMs = () => {
  const fields = readFileSync(`/proc/${redisPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const commandUsec = async () => {
  const out: Record<string, number> = {};
  for (const m of (await raw.info('commandstats')).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)) out[m[1]!] = Number(m[3]);
  return out;
};

const now = Date.now();
/** The same rows per path: from Arrow (with a source), or as JS values (none). */
const chunks: Record<Path, OnlineColumns[]> = { arrow: [], 'arrow-script': [], values: [] };
for (let start = 0; start < rows; start += chunk) {
  const n = Math.min(chunk, rows - start);
  const columns: Record<string, Float64Array> = {};
  for (const f of features) columns[f.name] = Float64Array.from({ length: n }, (_, i) => (start + i) * 0.37 + f.name.length);
  const keysAndTimes = {
    keys: Array.from({ length: n }, (_, i) => `user-${start + i}`),
    eventTimes: new Float64Array(n).fill(now - 3_600_000),
    createdTimes: new Float64Array(n),
  };
  chunks.arrow.push({ ...keysAndTimes, values: {}, source: { table: tableFromArrays(columns), rows: Int32Array.from({ length: n }, (_, i) => i) } });
  chunks['arrow-script'].push(chunks.arrow.at(-1)!);
  chunks.values.push({ ...keysAndTimes, values: Object.fromEntries(Object.entries(columns).map(([name, column]) => [name, Array.from(column)])) });
}

async function measure(path: Path, round: number) {
  const prefix = `granary-bench-build-write-${randomUUID().slice(0, 8)}`;
  const store = new RedisOnlineStore({ url: args.url!, keyPrefix: prefix, plainBuildWrite: path !== 'arrow-script' });
  const ofPath = chunks[path];
  const target: OnlineTarget = { project: 'bench', view: 'build_write', version: 1, generation: round + 1, joinKeys: [{ name: 'user_id', type: 'string' }], features, ttlSeconds: 86_400 };
  await store.markGeneration(target);
  await store.writeNewRows(target, ofPath[0]!); // connections, scripts and codecs warm
  const usecBefore = await commandUsec();
  const redisBefore = redisCpuMs();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let next = 1;
  let written = 0;
  const worker = async () => {
    while (next < ofPath.length) {
      const result = await store.writeNewRows(target, ofPath[next++]!);
      written += result.written;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const redisMs = redisCpuMs() - redisBefore;
  const usecAfter = await commandUsec();
  const measured = rows - ofPath[0]!.keys.length;
  const perRow = (usec: number) => Number((usec / measured).toFixed(2));
  const byCommand = Object.fromEntries(
    Object.entries(usecAfter)
      .map(([name, usec]) => [name, perRow(usec - (usecBefore[name] ?? 0))] as const)
      .filter(([name, usec]) => usec > 0.01 && name !== 'info'),
  );
  const counted = await store.countedRowKeys(target);
  await store.close();
  await deleteByPattern(raw, `${prefix}:*`);
  if (written !== measured) throw new Error(`${path}: ${written} rows written of ${measured}`);
  if (counted !== undefined && counted !== rows) throw new Error(`${path}: ${counted} row keys counted of ${rows}`);
  return {
    path,
    rowsPerSecond: Math.round(measured / (wallMs / 1000)),
    redisCpuUsPerRow: perRow(redisMs * 1000),
    clientCpuUsPerRow: perRow(cpu.user + cpu.system),
    commandstatsUsPerRow: byCommand,
  };
}

/** packArrowRows alone over the `arrow` chunks (the packing in that path's client CPU): CPU us per row, the best of `rounds`. */
function packingCpuUsPerRow(): number {
  const codec = new PackedRowCodec(features);
  const names = new Set(features.map((f) => f.name));
  let best = Infinity;
  for (let round = 0; round <= rounds; round++) {
    const before = process.cpuUsage();
    for (const c of chunks.arrow) packArrowRows(codec, names, c.source!, c.eventTimes, c.createdTimes);
    const cpu = process.cpuUsage(before);
    if (round > 0) best = Math.min(best, (cpu.user + cpu.system) / rows); // round 0 warms the JIT
  }
  return Number(best.toFixed(2));
}

const runs: Awaited<ReturnType<typeof measure>>[] = [];
for (let round = 0; round < rounds; round++) for (const path of PATHS) runs.push(await measure(path, round));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const summary = (path: Path, field: 'redisCpuUsPerRow' | 'clientCpuUsPerRow' | 'rowsPerSecond') => median(runs.filter((r) => r.path === path).map((r) => r[field]));
console.log(
  JSON.stringify(
    {
      bench: 'build-write',
      rows,
      chunk,
      inFlight,
      features: features.length,
      packingCpuUsPerRow: packingCpuUsPerRow(),
      note: 'redis CPU from /proc of the server (the whole process: run on a quiet Redis); commandstats usec per row written',
      median: Object.fromEntries(PATHS.map((path) => [path, { redisCpuUsPerRow: summary(path, 'redisCpuUsPerRow'), clientCpuUsPerRow: summary(path, 'clientCpuUsPerRow'), rowsPerSecond: summary(path, 'rowsPerSecond') }])),
      runs,
    },
    null,
    2,
  ),
);
raw.disconnect();
