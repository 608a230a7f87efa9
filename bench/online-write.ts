/**
 * Online write throughput: RedisOnlineStore.writeRows (the monotonic Lua write, many rows per
 * call, pipelined) for 1M rows x 10 features over 100k entities, next to redis-benchmark ceilings
 * on the same Redis: a plain 10-field HSET, and the monotonic script alone with one row per call
 * (EVALSHA). Prints JSON, with the rows per call used and what one call cost Redis (INFO
 * commandstats: usec per EVALSHA, the time readers wait behind it).
 *
 *   node --import tsx bench/online-write.ts [--rows 1000000] [--entities 100000] [--url redis://...]
 *     [--rows-per-call 200] [--chunk-size 1000] [--in-flight 4] [--no-ceiling]
 *
 * Rows arrive the way materialization sends them: in slices of 100k (one Parquet row group),
 * event times rising, so the first slice creates every entity and the next ones replace them.
 * A last pass rewrites the first slice: all no-ops (the skip path).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { localStack } from '../config/local-stack.ts';
import { MONOTONIC_WRITE_MANY_LUA } from '../stores/online/monotonic-write-many.lua.ts';
import type { OnlineRow, OnlineTarget } from '../stores/online/online-store.ts';
import {
  DEFAULT_ROWS_PER_CALL,
  DEFAULT_WRITE_CHUNK_SIZE,
  DEFAULT_WRITE_CHUNKS_IN_FLIGHT,
  RedisOnlineStore,
} from '../stores/online/redis-online-store.ts';
import { deleteByPattern } from './support/redis-ceiling.ts';

const run = promisify(execFile);
const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    rows: { type: 'string', default: '1000000' },
    entities: { type: 'string', default: '100000' },
    slice: { type: 'string', default: '100000' },
    url: { type: 'string', default: localStack().redis.url },
    'rows-per-call': { type: 'string', default: String(DEFAULT_ROWS_PER_CALL) },
    'chunk-size': { type: 'string', default: String(DEFAULT_WRITE_CHUNK_SIZE) },
    'in-flight': { type: 'string', default: String(DEFAULT_WRITE_CHUNKS_IN_FLIGHT) },
    ceiling: { type: 'boolean', default: true },
  },
});
const totalRows = Number(args.rows);
const entities = Number(args.entities);
const sliceSize = Number(args.slice);
const url = args.url!;
const { hostname, port } = new URL(url);

const target: OnlineTarget = {
  project: 'bench',
  view: 'user_features',
  version: 1,
  generation: 1,
  joinKeys: [{ name: 'user_id', type: 'int64' }],
  features: [
    ...Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
    { name: 'count_7d', type: 'int64' },
    { name: 'count_30d', type: 'int64' },
    { name: 'country', type: 'string' },
    { name: 'active', type: 'bool' },
  ],
  ttlSeconds: 7 * 86_400,
};

function slice(start: number, end: number, baseTime: number): OnlineRow[] {
  const rows = new Array<OnlineRow>(end - start);
  for (let i = start; i < end; i++) {
    const user = i % entities;
    rows[i - start] = {
      entityKey: [BigInt(user)],
      values: {
        f0: i * 0.5, f1: i / 3, f2: user * 1.25, f3: Math.sqrt(i), f4: (i % 977) / 7, f5: -i * 0.001,
        count_7d: BigInt(i % 1000), count_30d: BigInt(i % 5000),
        country: ['FR', 'DE', 'US', 'BR', 'JP'][i % 5]!,
        active: i % 2 === 0,
      },
      eventTime: baseTime + Math.floor(i / entities) * 1000,
      createdTime: 0,
    };
  }
  return rows;
}

async function redisBenchmark(command: string[]): Promise<{ rps: number; p50Ms: number | null }> {
  const { stdout } = await run(
    'redis-benchmark',
    ['-h', hostname, '-p', port || '6379', '-q', '-n', '1000000', '-P', '16', '-c', '50', '-r', String(entities), ...command],
    { maxBuffer: 64 << 20 },
  );
  const last = stdout.split(/\r|\n/).filter((line) => line.includes('requests per second')).pop() ?? '';
  const rps = /([\d.]+) requests per second/.exec(last);
  const p50 = /p50=([\d.]+) msec/.exec(last);
  return { rps: rps ? Math.round(Number(rps[1])) : NaN, p50Ms: p50 ? Number(p50[1]) : null };
}

/** Script calls and the Redis CPU they took (EVAL and EVALSHA), from INFO commandstats. */
async function scriptStats(raw: Redis): Promise<{ calls: number; usec: number }> {
  const info = await raw.info('commandstats');
  const out = { calls: 0, usec: 0 };
  for (const match of info.matchAll(/cmdstat_(eval|evalsha):calls=(\d+),usec=(\d+)/g)) {
    out.calls += Number(match[2]);
    out.usec += Number(match[3]);
  }
  return out;
}

const prefix = `granary-bench-${randomUUID().slice(0, 8)}`;
const raw = new Redis(url);
const store = new RedisOnlineStore({
  url,
  keyPrefix: prefix,
  rowsPerCall: Number(args['rows-per-call']),
  writeChunkSize: Number(args['chunk-size']),
  writeChunksInFlight: Number(args['in-flight']),
  commandTimeoutMs: 60_000,
});
try {
  const baseTime = Date.now() - 3600_000;
  let writeMs = 0;
  let clientCpuUs = 0;
  let written = 0;
  let skipped = 0;
  const statsBefore = await scriptStats(raw);
  const started = performance.now();
  for (let start = 0; start < totalRows; start += sliceSize) {
    const rows = slice(start, Math.min(start + sliceSize, totalRows), baseTime);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = await store.writeRows(target, rows);
    writeMs += performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    clientCpuUs += cpu.user + cpu.system;
    written += result.written;
    skipped += result.skipped;
  }
  const wallMs = performance.now() - started;
  const statsAfter = await scriptStats(raw);
  const serverMs = (statsAfter.usec - statsBefore.usec) / 1000;
  const scriptCalls = statsAfter.calls - statsBefore.calls;

  const replay = slice(0, Math.min(sliceSize, totalRows), baseTime);
  const t1 = performance.now();
  const replayed = await store.writeRows(target, replay);
  const replayMs = performance.now() - t1;

  const result: Record<string, unknown> = {
    bench: 'online-write',
    redis: url,
    rows: totalRows,
    entities,
    features: target.features.length,
    rowsPerCall: Number(args['rows-per-call']),
    chunkSize: Number(args['chunk-size']),
    chunksInFlight: Number(args['in-flight']),
    writeRows: {
      rowsPerSecond: Math.round(totalRows / (writeMs / 1000)),
      writeMs: Math.round(writeMs),
      wallMsIncludingRowGeneration: Math.round(wallMs),
      // This process' CPU (encoding, ioredis, GC) while writing: what the client pays per row.
      clientCpuUsPerRow: Number((clientCpuUs / totalRows).toFixed(2)),
      written,
      skipped,
      redisScriptCpuMs: Math.round(serverMs),
      redisScriptUsPerRow: Number(((serverMs * 1000) / totalRows).toFixed(2)),
      // What one call holds Redis (no reader is served meanwhile): keep it near 1 ms.
      redisScriptCalls: scriptCalls,
      redisScriptUsPerCall: Math.round((serverMs * 1000) / scriptCalls),
    },
    replayOfNoOps: { rows: replay.length, rowsPerSecond: Math.round(replay.length / (replayMs / 1000)), skipped: replayed.skipped },
  };

  if (args.ceiling) {
    const fields = Array.from({ length: 10 }, (_, i) => [`f${i}`, `v${i}`]).flat();
    const benchPrefix = `${prefix}-rb`;
    const sha = (await raw.script('LOAD', MONOTONIC_WRITE_MANY_LUA)) as string;
    result.ceiling = {
      note: 'redis-benchmark -n 1000000 -P 16 -c 50 -r <entities>, same Redis',
      hset10Fields: await redisBenchmark(['hset', `${benchPrefix}:h:__rand_int__`, ...fields]),
      // The monotonic script alone, one row per call, event times random: about half the calls replace, half skip.
      monotonicScript10Fields: await redisBenchmark([
        'evalsha', sha, '1', `${benchPrefix}:s:__rand_int__`, '__rand_int__', '0', String(Date.now() + 86_400_000), '10', ...fields,
      ]),
    };
    const ceiling = result.ceiling as { hset10Fields: { rps: number } };
    result.ratio = { writeRowsToHset10FieldsCeiling: Number(((result.writeRows as { rowsPerSecond: number }).rowsPerSecond / ceiling.hset10Fields.rps).toFixed(3)) };
    await deleteByPattern(raw, `${benchPrefix}:*`);
  }
  console.log(JSON.stringify(result, null, 2));
} finally {
  await deleteByPattern(raw, `${prefix}:*`).catch(() => undefined);
  await store.close();
  raw.disconnect();
}
