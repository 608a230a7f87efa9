/**
 * Online serving latency and throughput: the HTTP feature server (`granary serve`, its own
 * process) driven over loopback by this process, next to the same reads as raw pipelined
 * ioredis HMGETs (the floor: what any server on this Redis must pay) measured in the same run.
 * Prints JSON with p50 / p99 (one request at a time) and throughput (`--concurrency` in flight)
 * for each shape, and the ratios server / raw.
 *
 *   npm run bench -- serving [--entities 10000] [--seconds 3] [--concurrency 16]
 *
 * Shapes: 1 entity x 10 features (one view, by feature list); 1 entity x 50 features over 5 views
 * and 100 entities x 50 features (a feature service). Entities are drawn at random from the
 * written ones, so reads hit different keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/granary-config.ts';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource, type FeatureView } from '../definitions/index.ts';
import { CREATED_TIME_FIELD, EVENT_TIME_FIELD } from '../stores/online/key-layout.ts';
import type { OnlineRow, OnlineTarget } from '../stores/online/online-store.ts';
import { RedisOnlineStore } from '../stores/online/redis-online-store.ts';
import { PostgresRegistry } from '../stores/registry/postgres-registry.ts';
import { PostgresAccessRegistry } from '../stores/registry/postgres-access-registry.ts';
import { newToken } from '../access/consumer-token.ts';

const { values: args } = parseArgs({
  options: {
    entities: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
  },
});
const ENTITIES = Number(args.entities);
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const BIN = fileURLToPath(new URL('../bin/granary.mjs', import.meta.url));

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
const env = { GRANARY_PROJECT: `bench_serving_${id}`, GRANARY_REDIS_KEY_PREFIX: `bench-serving-${id}` };
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
const targets: OnlineTarget[] = [];
const now = Date.now();
for (const view of views) {
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
  await store.writeRows(target, rows);
}

// --- the shapes ----------------------------------------------------------------------------
interface Shape {
  readonly name: string;
  readonly entities: number;
  /** Views read, each with the features read. */
  readonly reads: readonly { target: OnlineTarget; features: string[] }[];
  body(users: readonly number[]): string;
}
const shapes: Shape[] = [
  {
    name: '1 entity x 10 features',
    entities: 1,
    reads: [{ target: targets[0]!, features: views[0]!.features.map((f) => f.name) }],
    body: (users) => JSON.stringify({ features: views[0]!.features.map((f) => `${views[0]!.name}:${f.name}`), entities: { user_id: users } }),
  },
  {
    name: '1 entity x 50 features over 5 views',
    entities: 1,
    reads: targets.map((target, v) => ({ target, features: views[v]!.features.map((f) => f.name) })),
    body: (users) => JSON.stringify({ feature_service: service.name, entities: { user_id: users } }),
  },
  {
    name: '100 entities x 50 features',
    entities: 100,
    reads: targets.map((target, v) => ({ target, features: views[v]!.features.map((f) => f.name) })),
    body: (users) => JSON.stringify({ feature_service: service.name, entities: { user_id: users } }),
  },
];
const randomUsers = (n: number): number[] => Array.from({ length: n }, () => Math.floor(Math.random() * ENTITIES));

// --- the server, its own process -------------------------------------------------------------
const server = await startServer();
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function startServer(): Promise<{ url: URL; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--max-entities', '1000'], {
    cwd: tmpdir(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`granary serve exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: new URL(match[1]!), child });
    });
  });
}

function post(body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: server.url.hostname, port: server.url.port, path: '/get-online-features', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${consumerToken.token}` } },
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

// --- the raw reference: the same HMGETs, pipelined, one round trip per read -------------------
const raw = new Redis(config.online.url);
const rowPrefixes = new Map(targets.map((t) => [t, store.layout.rowKeyPrefix(t)]));
function rawRead(shape: Shape, users: readonly number[]): Promise<unknown> {
  const pipeline = raw.pipeline();
  for (const { target, features } of shape.reads) {
    const prefix = rowPrefixes.get(target)!;
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
}

async function measure(call: () => Promise<unknown>): Promise<Figures> {
  const warm = performance.now() + 1000; // warm-up: JIT, connections, caches
  while (performance.now() < warm) await call();
  const latencies: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    await call();
    latencies.push(performance.now() - started);
  }
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
  return { p50Ms: at(0.5), p99Ms: at(0.99), sequentialRequests: latencies.length, throughputPerSecond: Math.round(done / elapsed) };
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

const results = [];
try {
  for (const shape of shapes) {
    const bodies = Array.from({ length: 256 }, () => randomUsers(shape.entities));
    let n = 0;
    const serverFigures = await measure(() => post(shape.body(bodies[n++ % bodies.length]!)));
    let m = 0;
    const rawFigures = await measure(() => rawRead(shape, bodies[m++ % bodies.length]!));
    results.push({
      shape: shape.name,
      server: serverFigures,
      rawHmget: rawFigures,
      ratio: {
        p50: round(serverFigures.p50Ms / rawFigures.p50Ms, 2),
        p99: round(serverFigures.p99Ms / rawFigures.p99Ms, 2),
        throughput: round(serverFigures.throughputPerSecond / rawFigures.throughputPerSecond, 2),
      },
    });
  }
} finally {
  server.child.removeAllListeners('exit');
  server.child.kill('SIGTERM');
  agent.destroy();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${config.online.keyPrefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await raw.unlink(...keys);
  } while (cursor !== '0');
  raw.disconnect();
  await Promise.allSettled([store.close(), registry.close()]);
}

console.log(
  JSON.stringify(
    {
      benchmark: 'serving',
      entitiesWritten: ENTITIES,
      secondsPerMeasure: SECONDS,
      concurrency: CONCURRENCY,
      note: 'p50/p99: one request at a time over loopback (HTTP keep-alive); throughput: `concurrency` in flight. rawHmget: the same HMGETs pipelined from this process with ioredis (the floor).',
      results,
    },
    null,
    2,
  ),
);
