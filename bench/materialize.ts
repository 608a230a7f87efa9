/**
 * Materialization throughput: rows/s from committed Parquet objects into Redis, for 1M rows x 10
 * features over 100k entities, next to a redis-benchmark ceiling on the same Redis (pipelined
 * HSET of the same 10 fields) measured in the same run, between repetitions. Prints JSON.
 *
 *   node --import tsx bench/materialize.ts [--rows 1000000] [--entities 100000] [--batches 10]
 *     [--repetitions 3] [--offline s3://granary/bench/<id> | /a/folder] [--no-apply-only] [--no-ceiling]
 *
 * The objects are written once (one per batch, as ingestion leaves them: each batch updates every
 * entity with a newer event time) in a data project. Each repetition then commits those same
 * objects in a fresh project, so it materializes into empty Redis keys and a watermark of 0:
 * - `materialize` (the headline): FeatureStore.materialize with an in-process worker, i.e. the
 *   materialize workflow and its activities (Parquet read and decode, the monotonic Lua write,
 *   the watermark advance), timed from the call to its result;
 * - `applyOnly`: the same activities (prepareMaterialization, then applyCommit per commit) called
 *   in order without Temporal (MockActivityEnvironment).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs, promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createActivities } from '../activities/index.ts';
import type { MaterializationStart } from '../activities/prepare-materialization.ts';
import { loadConfig, type GranaryConfig } from '../config/granary-config.ts';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../definitions/index.ts';
import { FeatureStore } from '../sdk/feature-store.ts';
import { toViewTable } from '../stores/offline/batch-validation.ts';
import { eventDateOf, objectKey } from '../stores/offline/object-key.ts';
import { openStores } from '../stores/open-stores.ts';
import type { CommitObject } from '../stores/registry/registry.ts';
import { createGranaryWorker, installWorkerLogging } from '../workers/granary-worker.ts';
import { connectClient } from '../workers/temporal-connection.ts';
import type { ViewRef } from '../workflows/contracts.ts';

const run = promisify(execFile);
const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    rows: { type: 'string', default: '1000000' },
    entities: { type: 'string', default: '100000' },
    batches: { type: 'string', default: '10' },
    repetitions: { type: 'string', default: '3' },
    offline: { type: 'string' },
    'apply-only': { type: 'boolean', default: true },
    ceiling: { type: 'boolean', default: true },
  },
});
const totalRows = Number(args.rows);
const entities = Number(args.entities);
const batches = Number(args.batches);
const repetitions = Number(args.repetitions);
const rowsPerBatch = Math.ceil(totalRows / batches);

const id = `bench_materialize_${randomBytes(4).toString('hex')}`;
const keyPrefix = `granary-bench-${id}`;
const configOf = (project: string): GranaryConfig =>
  loadConfig({
    repoDir: process.cwd(),
    env: {
      ...process.env,
      GRANARY_PROJECT: project,
      GRANARY_TASK_QUEUE: `granary-bench-${id}`,
      GRANARY_REDIS_KEY_PREFIX: keyPrefix,
      GRANARY_OFFLINE_URL: args.offline ?? `s3://granary/bench/${id}`,
    },
  });

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
const userFeatures = featureView({
  name: 'user_features',
  entities: [user],
  source: parquetSource({ name: 'user_source', path: 'data/user_features' }),
  schema: [
    ...Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
    { name: 'count_7d', type: 'int64' as const },
    { name: 'count_30d', type: 'int64' as const },
    { name: 'country', type: 'string' as const },
    { name: 'active', type: 'bool' as const },
  ],
  ttl: '7d',
});
const repo = buildFeatureRepo('.', [{ definition: userFeatures }]);

/** Batch b: every entity once (while rows allow), event times rising with b, so each batch replaces the last. */
function batchRows(b: number, baseTime: number): Record<string, unknown>[] {
  const start = b * rowsPerBatch;
  const end = Math.min(start + rowsPerBatch, totalRows);
  const rows = new Array<Record<string, unknown>>(end - start);
  for (let i = start; i < end; i++) {
    const userId = i % entities;
    rows[i - start] = {
      user_id: BigInt(userId),
      event_timestamp: new Date(baseTime + Math.floor(i / entities) * 1000),
      f0: i * 0.5, f1: i / 3, f2: userId * 1.25, f3: Math.sqrt(i), f4: (i % 977) / 7, f5: -i * 0.001,
      count_7d: BigInt(i % 1000), count_30d: BigInt(i % 5000),
      country: ['FR', 'DE', 'US', 'BR', 'JP'][i % 5]!,
      active: i % 2 === 0,
    };
  }
  return rows;
}

async function redisBenchmarkHset(url: string): Promise<number> {
  const { hostname, port } = new URL(url);
  const fields = Array.from({ length: 10 }, (_, i) => [`f${i}`, `v${i}`]).flat();
  const { stdout } = await run(
    'redis-benchmark',
    ['-h', hostname, '-p', port || '6379', '-q', '-n', String(totalRows), '-P', '16', '-c', '50', '-r', String(entities),
      'hset', `${keyPrefix}-rb:h:__rand_int__`, ...fields],
    { maxBuffer: 64 << 20 },
  );
  const last = stdout.split(/\r|\n/).filter((line) => line.includes('requests per second')).pop() ?? '';
  return Math.round(Number(/([\d.]+) requests per second/.exec(last)?.[1] ?? NaN));
}

async function deleteByPattern(raw: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await raw.unlink(...keys);
  } while (cursor !== '0');
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return Math.round(sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
};

const dataConfig = configOf(`${id}_data`);
const stores = openStores(dataConfig);
const raw = new Redis(dataConfig.online.url);
installWorkerLogging();
const worker = await createGranaryWorker(dataConfig);
const running = worker.run();
const client = await connectClient(dataConfig.temporal);
const projects: string[] = [];
try {
  // The objects, written once.
  const dataRegistry = stores.registry();
  await dataRegistry.migrate();
  await dataRegistry.apply(repo);
  const view = userFeatures;
  const objects: CommitObject[] = [];
  const baseTime = Date.now() - 3_600_000;
  const writeStarted = performance.now();
  for (let b = 0; b < batches; b++) {
    const table = toViewTable(view, batchRows(b, baseTime));
    const key = objectKey({ project: dataConfig.project, view: view.name, version: 1, eventDate: eventDateOf(baseTime), batchId: `b${b}` });
    const info = await stores.offline.writeTable(key, table);
    const eventTime = new Date(baseTime + Math.floor((b * rowsPerBatch) / entities) * 1000);
    const lastEventTime = new Date(baseTime + Math.floor((Math.min((b + 1) * rowsPerBatch, totalRows) - 1) / entities) * 1000);
    objects.push({ ...info, minEventTime: eventTime, maxEventTime: lastEventTime });
  }
  const writeMs = performance.now() - writeStarted;

  /** A fresh project committing the shared objects, one commit per batch; returns its ref and commit seqs. */
  const freshProject = async (label: string): Promise<{ ref: ViewRef; seqs: number[] }> => {
    const project = `${id}_${label}`;
    projects.push(project);
    const registry = stores.registry(project);
    await registry.apply(repo);
    const seqs: number[] = [];
    for (const [b, object] of objects.entries()) {
      seqs.push((await registry.commit({ view: view.name, version: 1, batchId: `b${b}`, schemaVersion: 1, objects: [object] })).commit.seq);
    }
    return { ref: { project, view: view.name, version: 1 }, seqs };
  };

  const activities = createActivities({
    registry: (project) => stores.registry(project),
    offline: stores.offline,
    online: stores.online,
    temporal: { client, taskQueue: dataConfig.temporal.taskQueue },
    onRedisLoss: 'fail',
  });

  const materializeRps: number[] = [];
  const materializeMs: number[] = [];
  const applyRps: number[] = [];
  const ceilingRps: number[] = [];
  let rowsWritten = 0;
  for (let r = 0; r < repetitions; r++) {
    // The real thing: the materialize workflow on the in-process worker.
    const { ref, seqs } = await freshProject(`m${r}`);
    const lastSeq = seqs.at(-1)!;
    const store = await FeatureStore.open({ config: configOf(ref.project) });
    try {
      const t0 = performance.now();
      const [result] = await store.materialize([view.name]);
      const ms = performance.now() - t0;
      if (result!.watermark !== lastSeq || result!.rowsWritten + result!.rowsSkipped !== totalRows) {
        throw new Error(`materialization of ${ref.project} ended at watermark ${result!.watermark} (expected ${lastSeq}) after ${result!.rowsWritten} rows`);
      }
      rowsWritten = result!.rowsWritten;
      materializeMs.push(ms);
      materializeRps.push(totalRows / (ms / 1000));
    } finally {
      await store.close();
    }
    await deleteByPattern(raw, `${keyPrefix}:${ref.project}:*`);

    if (args['apply-only']) {
      // The same activities, in order, without Temporal.
      const fresh = await freshProject(`a${r}`);
      const env = new MockActivityEnvironment();
      const t0 = performance.now();
      const { generation, watermark } = (await env.run(activities.prepareMaterialization, fresh.ref)) as MaterializationStart;
      let after = watermark;
      for (const seq of fresh.seqs) {
        await env.run(activities.applyCommit, { ...fresh.ref, generation, seq, after });
        after = seq;
      }
      applyRps.push(totalRows / ((performance.now() - t0) / 1000));
      await deleteByPattern(raw, `${keyPrefix}:${fresh.ref.project}:*`);
    }

    if (args.ceiling) {
      ceilingRps.push(await redisBenchmarkHset(dataConfig.online.url));
      await deleteByPattern(raw, `${keyPrefix}-rb:*`);
    }
  }

  const ceiling = args.ceiling ? median(ceilingRps) : null;
  const result = {
    bench: 'materialize',
    redis: dataConfig.online.url,
    offline: stores.offline.root,
    rows: totalRows,
    entities,
    features: view.features.length,
    objects: batches,
    commits: batches,
    repetitions,
    setup: { writeObjectsMs: Math.round(writeMs), objectBytes: objects.reduce((n, o) => n + o.bytes, 0) },
    materialize: {
      note: 'FeatureStore.materialize, workflow + activities on an in-process worker, from the call to its result (includes the workflow\'s 1 s wait for late commits before it finishes)',
      rowsPerSecondMedian: median(materializeRps),
      rowsPerSecond: materializeRps.map(Math.round),
      wallMs: materializeMs.map(Math.round),
      rowsWritten,
    },
    ...(args['apply-only']
      ? { applyOnly: { note: 'prepareMaterialization + applyCommit per commit, without Temporal', rowsPerSecondMedian: median(applyRps), rowsPerSecond: applyRps.map(Math.round) } }
      : {}),
    ...(ceiling !== null
      ? {
          ceiling: {
            note: `redis-benchmark hset, 10 fields, -n ${totalRows} -P 16 -c 50 -r ${entities}, same Redis, once per repetition`,
            hset10FieldsRpsMedian: ceiling,
            hset10FieldsRps: ceilingRps,
          },
          ratio: {
            materializeToCeiling: Number((median(materializeRps) / ceiling).toFixed(3)),
            ...(args['apply-only'] ? { applyOnlyToCeiling: Number((median(applyRps) / ceiling).toFixed(3)) } : {}),
          },
        }
      : {}),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  worker.shutdown();
  await running.catch(() => undefined);
  await deleteByPattern(raw, `${keyPrefix}:*`).catch(() => undefined);
  for await (const object of stores.offline.list(`${dataConfig.project}/`)) await stores.offline.delete(object.key).catch(() => undefined);
  raw.disconnect();
  await Promise.allSettled([stores.close(), client.connection.close()]);
}
