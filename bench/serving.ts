/**
 * Online serving latency and throughput: the HTTP feature server (`granary serve`, its own
 * process) driven over loopback by this process, next to the same reads issued raw with ioredis
 * in the fewest round trips the layout allows (the floor: what any server on this Redis must pay)
 * measured in the same run: layout 2 (packed rows), one MGET of every key of the request. The
 * same rows are also written in layout 1 (one hash per entity) under another prefix, to give
 * layout 1's floor (pipelined HMGETs) and Redis bytes per entity of the 10-feature view in both
 * layouts (MEMORY USAGE over a sample, and the INFO used_memory delta of writing the view).
 * Prints JSON with p50 / p99 (one request at a time) and throughput (`--concurrency` in flight)
 * for each shape, and the ratios server / raw. The HTTP floor (bench/serving/http-floor-server.ts,
 * its own process) answers the same requests with the same MGET and no server work, so the figures
 * split into HTTP over loopback (floor / raw) and the server's own work (server / floor); the CPU
 * each process spends per request (/proc) is the figure least moved by a loaded machine.
 *
 *   npm run bench -- serving [--entities 10000] [--seconds 3] [--warmup-seconds 5] [--concurrency 16] [--shapes 1x10,1x50,100x50] [--cluster]
 *     [--server-node-options='--cpu-prof --cpu-prof-dir=/tmp/prof']   (flags of the server's node, for profiling)
 *
 * `--cluster`: the same on a Redis Cluster (online.url `redis+cluster://...`, by default the
 * stack's, `npm run stack -- up --redis-cluster`): the server reads through ioredis' Cluster, and
 * the floor is one MGET per slot group, a pipeline per node, nodes in parallel (one round trip per
 * node). Layout 1 and the HTTP floor (one MGET) are not measured there (a cluster holds layout 2 only).
 *
 * Shapes: 1 entity x 10 features (one view, by feature list); 1 entity x 50 features over 5 views
 * and 100 entities x 50 features (a feature service). Entities are drawn at random from the
 * written ones, so reads hit different keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { localStack } from '../config/local-stack.ts';
import { hashSlot } from '../stores/online/hash-slot.ts';
import { loadConfig } from '../config/granary-config.ts';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource, type FeatureView } from '../definitions/index.ts';
import { CREATED_TIME_FIELD, EVENT_TIME_FIELD, KeyLayout, encodeEntityKey } from '../stores/online/key-layout.ts';
import type { OnlineRow, OnlineTarget } from '../stores/online/online-store.ts';
import { RedisOnlineStore } from '../stores/online/redis-online-store.ts';
import { PostgresRegistry } from '../stores/registry/postgres-registry.ts';
import { PostgresAccessRegistry } from '../stores/registry/postgres-access-registry.ts';
import { newToken } from '../access/consumer-token.ts';

const { values: args } = parseArgs({
  options: {
    entities: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '3' },
    /** Requests sent before each measurement (JIT tiering, heap growth, connections): a server in production is warm. */
    'warmup-seconds': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    /** Node flags for the server's process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` or `--trace-gc` (profiling). */
    'server-node-options': { type: 'string', default: '' },
    /** Another checkout's bin/granary.mjs as the server (a before/after on the same machine minutes apart); default this one's. */
    'server-bin': { type: 'string', default: '' },
    /** Only these shapes, by short name (comma-separated: 1x10, 1x50, 100x50); default all. */
    shapes: { type: 'string', default: '1x10,1x50,100x50' },
    cluster: { type: 'boolean', default: false },
  },
});
const CLUSTER = args.cluster;
const ENTITIES = Number(args.entities);
const SECONDS = Number(args.seconds);
const WARMUP_SECONDS = Number(args['warmup-seconds']);
const CONCURRENCY = Number(args.concurrency);
const BIN = args['server-bin'] || fileURLToPath(new URL('../bin/granary.mjs', import.meta.url));

// --- definitions and data ----------------------------------------------------------------
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
const views: FeatureView[] = Array.from({ length: 5 }, (_, v) =>
  featureView({
    name: `bench_view_${v}`,
    entities: [user],
    source: parquetSource({ name: `bench_source_${v}`, path: `data/bench_${v}` }),
    schema: [
      ...Array.from({ length: 7 }, (_, f) => ({ name: `v${v}_f${f}`, type: 'float64' as const })),
      { name: `v${v}_count`, type: 'int64' },
      { name: `v${v}_country`, type: 'string' },
      { name: `v${v}_active`, type: 'bool' },
    ],
    ttl: '1d',
  }),
);
const service = featureService({ name: 'bench_model', features: views });
const repo = buildFeatureRepo('.', [...views.map((definition) => ({ definition })), { definition: service }]);

const id = randomBytes(4).toString('hex');
const env: Record<string, string> = { GRANARY_PROJECT: `bench_serving_${id}`, GRANARY_REDIS_KEY_PREFIX: `bench-serving-${id}` };
if (CLUSTER && !process.env.GRANARY_REDIS_URL?.includes('+cluster://')) env.GRANARY_REDIS_URL = `redis+cluster://${localStack().redisCluster.nodes}`;
const config = loadConfig({ repoDir: tmpdir(), env: { ...process.env, ...env } });
const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
await registry.migrate();
await registry.apply(repo);
// The server checks a consumer token on every read (issue 18): the bench reads as a consumer granted every view.
const access = new PostgresAccessRegistry({ url: config.registry.url });
const consumerToken = newToken();
await access.createConsumer({ name: `${config.project}_bench`, project: config.project, description: 'bench/serving.ts', token: consumerToken.stored, actor: 'bench' });
for (const view of views) await access.grant({ project: config.project, consumer: `${config.project}_bench`, kind: 'view', name: view.name, feature: null, approvedBy: null }, 'bench');
await access.close();
const store = new RedisOnlineStore({ url: config.online.url, keyPrefix: config.online.keyPrefix });
/** The same rows in layout 1 (hashes), under a prefix of their own: layout 1's floor and memory. */
const layout1Prefix = `${config.online.keyPrefix}-layout1`;
const layout1 = CLUSTER ? undefined : new RedisOnlineStore({ url: config.online.url, keyPrefix: layout1Prefix, newGenerationLayout: 1 });
const raw: Redis | Cluster = CLUSTER
  ? new Cluster(config.online.clusterNodes.map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })), { scaleReads: 'master' })
  : new Redis(config.online.url);
if (raw instanceof Cluster) await raw.ping();
/** Every master of a cluster, or the one Redis. */
const masters = (): Redis[] => (raw instanceof Cluster ? raw.nodes('master') : [raw]);
const usedMemory = async () => {
  let sum = 0;
  for (const node of masters()) sum += Number(/^used_memory:(\d+)/m.exec(await node.info('memory'))?.[1]);
  return sum;
};
const memory: Record<string, { usedMemoryDeltaBytesPerEntity: number; memoryUsageBytesPerEntitySample: number }> = {};
const targets: OnlineTarget[] = [];
const now = Date.now();
for (const [v, view] of views.entries()) {
  const generation = (await registry.activeGeneration(view.name, view.version)).generation;
  const target: OnlineTarget = {
    project: config.project,
    view: view.name,
    version: view.version,
    generation,
    joinKeys: [{ name: 'user_id', type: 'int64' }],
    features: view.features.map((f) => ({ name: f.name, type: f.type })),
    ttlSeconds: view.ttlSeconds,
  };
  targets.push(target);
  const rows: OnlineRow[] = Array.from({ length: ENTITIES }, (_, i) => ({
    entityKey: [BigInt(i)],
    values: Object.fromEntries(
      view.features.map((f, n) => [f.name, f.type === 'float64' ? i * 0.25 + n : f.type === 'int64' ? BigInt(i) : f.type === 'string' ? 'FR' : i % 2 === 0]),
    ),
    eventTime: now - 60_000,
    createdTime: 0,
  }));
  for (const [name, s] of [['layout1', layout1], ['layout2', store]] as const) {
    if (!s) continue;
    await s.markGeneration(target);
    const before = await usedMemory();
    await s.writeRows(target, rows);
    if (v !== 0) continue;
    // The 10-feature view: bytes per entity, both ways.
    const delta = (await usedMemory()) - before;
    const sample = Array.from({ length: 1000 }, (_, i) => [BigInt(Math.floor((i * ENTITIES) / 1000))]);
    let sampled = 0;
    for (const entityKey of sample) sampled += Number(await raw.memory('USAGE', await s.rowKey(target, entityKey), 'SAMPLES', '0'));
    memory[name] = { usedMemoryDeltaBytesPerEntity: Math.round(delta / ENTITIES), memoryUsageBytesPerEntitySample: Math.round(sampled / sample.length) };
  }
}
const layouts = await Promise.all(targets.map((t) => store.generationLayout(t)));

// --- the shapes ----------------------------------------------------------------------------
interface Shape {
  readonly name: string;
  readonly short: string;
  readonly entities: number;
  /** Views read, each with the features read. */
  readonly reads: readonly { target: OnlineTarget; features: string[] }[];
  body(users: readonly number[]): string;
}
const shapes: Shape[] = [
  {
    name: '1 entity x 10 features',
    short: '1x10',
    entities: 1,
    reads: [{ target: targets[0]!, features: views[0]!.features.map((f) => f.name) }],
    body: (users) => JSON.stringify({ features: views[0]!.features.map((f) => `${views[0]!.name}:${f.name}`), entities: { user_id: users } }),
  },
  {
    name: '1 entity x 50 features over 5 views',
    short: '1x50',
    entities: 1,
    reads: targets.map((target, v) => ({ target, features: views[v]!.features.map((f) => f.name) })),
    body: (users) => JSON.stringify({ feature_service: service.name, entities: { user_id: users } }),
  },
  {
    name: '100 entities x 50 features',
    short: '100x50',
    entities: 100,
    reads: targets.map((target, v) => ({ target, features: views[v]!.features.map((f) => f.name) })),
    body: (users) => JSON.stringify({ feature_service: service.name, entities: { user_id: users } }),
  },
];
const randomUsers = (n: number): number[] => Array.from({ length: n }, () => Math.floor(Math.random() * ENTITIES));

// --- the server, its own process; the HTTP floor, its own process too -------------------------
const server = await startProcess([BIN, 'serve', '--port', '0', '--max-entities', '1000'], args['server-node-options']);
const httpFloor = CLUSTER ? null : await startProcess([
  '--import',
  'tsx',
  fileURLToPath(new URL('./serving/http-floor-server.ts', import.meta.url)),
  JSON.stringify({
    redisUrl: config.online.url,
    keyPrefix: config.online.keyPrefix,
    views: targets.map((t, v) => ({ name: t.view, ref: { project: t.project, view: t.view, version: t.version, generation: t.generation }, buckets: layouts[v]!.buckets })),
    services: { [service.name]: views.map((v) => v.name) },
  }),
]);
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function startProcess(argv: readonly string[], nodeOptions = ''): Promise<{ url: URL; child: ChildProcess }> {
  const flags = nodeOptions.split(' ').filter((flag) => flag !== '');
  const child = spawn(process.execPath, [...flags, ...argv], {
    // The server from a folder without a repo (it reads the registry's definitions); the floor from this repo (it needs tsx).
    cwd: argv[0] === BIN ? tmpdir() : fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`${argv.join(' ').slice(0, 200)} exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (process.env.GRANARY_BENCH_SERVER_STDOUT) process.stderr.write(chunk);
      out += chunk.toString();
      const match = /on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: new URL(match[1]!), child });
    });
  });
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); NaN elsewhere. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100;

function post(to: URL, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: to.hostname, port: to.port, path: '/get-online-features', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${consumerToken.token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// --- the raw references: the same reads, in the fewest round trips of each layout -------------
/** Layout 2: one MGET of every key of the request (all views), one round trip. */
const keyOf = (t: OnlineTarget, v: number, u: number) => store.layout.packedRowKey(t, encodeEntityKey([BigInt(u)]), layouts[v]!.buckets);
function rawRead(shape: Shape, users: readonly number[]): Promise<unknown> {
  const keys: string[] = [];
  for (const { target } of shape.reads) {
    const v = targets.indexOf(target);
    for (const u of users) keys.push(keyOf(target, v, u));
  }
  return raw instanceof Cluster ? rawReadCluster(raw, keys) : raw.mgetBuffer(...keys);
}
/** Cluster: keys grouped by slot, one MGET per slot group, one pipeline per node, nodes in parallel. */
function rawReadCluster(cluster: Cluster, keys: readonly string[]): Promise<unknown> {
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = hashSlot(key);
    const group = bySlot.get(slot);
    if (group) group.push(key);
    else bySlot.set(slot, [key]);
  }
  const byNode = new Map<string, ReturnType<Cluster['pipeline']>>();
  for (const [slot, group] of bySlot) {
    const node = cluster.slots[slot]!.join(';');
    let pipeline = byNode.get(node);
    if (!pipeline) byNode.set(node, (pipeline = cluster.pipeline()));
    pipeline.mgetBuffer(...group);
  }
  return Promise.all([...byNode.values()].map((p) => p.exec()));
}
/** Layout 1: an HMGET per (view, entity), pipelined, one round trip. */
const layout1Keys = new KeyLayout(layout1Prefix);
const layout1Prefixes = new Map(targets.map((t) => [t, layout1Keys.rowKeyPrefix(t)]));
function rawReadLayout1(shape: Shape, users: readonly number[]): Promise<unknown> {
  const pipeline = raw.pipeline();
  for (const { target, features } of shape.reads) {
    const prefix = layout1Prefixes.get(target)!;
    for (const u of users) pipeline.hmget(prefix + u, EVENT_TIME_FIELD, CREATED_TIME_FIELD, ...features);
  }
  return pipeline.exec();
}

// --- measurement ------------------------------------------------------------------------------
interface Figures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sequentialRequests: number;
  readonly throughputPerSecond: number;
  /** CPU (user + system) the measured process used per sequential request, ms: `granary serve`'s, the HTTP floor's, or this process's for the raw reads. */
  readonly cpuMsPerRequest: number;
}

async function measure(call: () => Promise<unknown>, pid?: number): Promise<Figures> {
  const warm = performance.now() + WARMUP_SECONDS * 1000; // warm-up: JIT tiering, heap growth, connections, caches
  while (performance.now() < warm) await call();
  const latencies: number[] = [];
  const cpu = () => (pid === undefined ? (process.cpuUsage().user + process.cpuUsage().system) / 1000 : cpuMsOf(pid));
  const cpuBefore = cpu();
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    await call();
    latencies.push(performance.now() - started);
  }
  const cpuMsPerRequest = round((cpu() - cpuBefore) / latencies.length, 4);
  latencies.sort((a, b) => a - b);
  let done = 0;
  const loadUntil = performance.now() + SECONDS * 1000;
  const startedLoad = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < loadUntil) {
        await call();
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - startedLoad) / 1000;
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!, 3);
  return { p50Ms: at(0.5), p99Ms: at(0.99), sequentialRequests: latencies.length, throughputPerSecond: Math.round(done / elapsed), cpuMsPerRequest };
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

const redisShape = CLUSTER ? `cluster: ${masters().length} masters` : 'standalone';
const results = [];
try {
  for (const shape of shapes.filter((s) => args.shapes.split(',').includes(s.short))) {
    const bodies = Array.from({ length: 256 }, () => randomUsers(shape.entities));
    let n = 0;
    const serverFigures = await measure(() => post(server.url, shape.body(bodies[n++ % bodies.length]!)), server.child.pid);
    let h = 0;
    const floor = httpFloor;
    const httpFloorFigures = floor ? await measure(() => post(floor.url, shape.body(bodies[h++ % bodies.length]!)), floor.child.pid) : null;
    let m = 0;
    const rawFigures = await measure(() => rawRead(shape, bodies[m++ % bodies.length]!));
    let l = 0;
    const layout1Figures = layout1 ? await measure(() => rawReadLayout1(shape, bodies[l++ % bodies.length]!)) : undefined;
    results.push({
      shape: shape.name,
      server: serverFigures,
      ...(httpFloorFigures ? { httpFloor: httpFloorFigures } : {}),
      rawMget: rawFigures,
      ...(layout1Figures ? { rawHmgetLayout1: layout1Figures } : {}),
      ratio: {
        p50: round(serverFigures.p50Ms / rawFigures.p50Ms, 2),
        p99: round(serverFigures.p99Ms / rawFigures.p99Ms, 2),
        throughput: round(serverFigures.throughputPerSecond / rawFigures.throughputPerSecond, 2),
        ...(httpFloorFigures
          ? {
              toHttpFloorP50: round(serverFigures.p50Ms / httpFloorFigures.p50Ms, 2),
              toHttpFloorP99: round(serverFigures.p99Ms / httpFloorFigures.p99Ms, 2),
              httpFloorP50ToRaw: round(httpFloorFigures.p50Ms / rawFigures.p50Ms, 2),
              serverCpuToHttpFloorCpu: round(serverFigures.cpuMsPerRequest / httpFloorFigures.cpuMsPerRequest, 2),
            }
          : {}),
        ...(layout1Figures
          ? { floorP50ToLayout1: round(rawFigures.p50Ms / layout1Figures.p50Ms, 2), floorP99ToLayout1: round(rawFigures.p99Ms / layout1Figures.p99Ms, 2) }
          : {}),
      },
    });
  }
} finally {
  for (const { child } of httpFloor ? [server, httpFloor] : [server]) {
    child.removeAllListeners('exit');
    child.kill('SIGTERM');
  }
  agent.destroy();
  for (const prefix of [config.online.keyPrefix, layout1Prefix]) {
    for (const node of masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        // One key per UNLINK: on a cluster a node's keys span slots.
        if (keys.length) await Promise.all(keys.map((key) => node.unlink(key)));
      } while (cursor !== '0');
    }
  }
  raw.disconnect();
  await Promise.allSettled([store.close(), layout1?.close(), registry.close()]);
}

console.log(
  JSON.stringify(
    {
      benchmark: 'serving',
      entitiesWritten: ENTITIES,
      secondsPerMeasure: SECONDS,
      warmupSecondsPerMeasure: WARMUP_SECONDS,
      concurrency: CONCURRENCY,
      redis: redisShape,
      note:
        'p50/p99: one request at a time over loopback (HTTP keep-alive); throughput: `concurrency` in flight. rawMget: the same rows read from this ' +
        'process with ioredis in one MGET (layout 2, the floor; on a cluster one MGET per slot group, a pipeline per node, nodes in parallel); rawHmgetLayout1: the same rows in layout 1, an HMGET per (view, entity), pipelined. ' +
        'httpFloor (not on a cluster): the same requests to a bare node:http server (bench/serving/http-floor-server.ts) that parses the body, builds the keys, MGETs and ' +
        'answers the raw bytes: HTTP over loopback plus the MGET, what any Node server pays. cpuMsPerRequest: CPU of the measured process per sequential request.',
      results,
      redisBytesPerEntity10Features: {
        note: `the 10-feature view (${views[0]!.name}), ${ENTITIES} entities: INFO used_memory delta of writing it / entities, and MEMORY USAGE (SAMPLES 0) over 1000 keys`,
        ...memory,
      },
    },
    null,
    2,
  ),
);
