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
 * - `applyOnly`: the same activities (prepareMaterialization, then applyCommits over the pending commits) called
 *   in order without Temporal (MockActivityEnvironment).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities/index.ts';
import type { AppliedCommits } from '../activities/apply-commits.ts';
import type { MaterializationStart } from '../activities/prepare-materialization.ts';
import { FeatureStore } from '../sdk/feature-store.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import { benchConfig } from './support/bench-config.ts';
import { startBenchHarness } from './support/bench-harness.ts';
import { median } from './support/median.ts';
import { deleteByPattern, redisBenchmarkHset } from './support/redis-ceiling.ts';
import { commitUserFeatureObjects, userFeatures, userFeaturesRepo, writeUserFeatureObjects } from './support/user-features-data.ts';

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
const layout = { rows: totalRows, entities, batches };

const id = `bench_materialize_${randomBytes(4).toString('hex')}`;
const keyPrefix = `granary-bench-${id}`;
const configOf = (project: string) => benchConfig(id, project, args.offline);

const dataConfig = configOf(`${id}_data`);
const harness = await startBenchHarness(dataConfig);
const { stores, raw, client } = harness;
const projects: string[] = [];
try {
  // The objects, written once.
  const dataRegistry = stores.registry();
  await dataRegistry.migrate();
  await dataRegistry.apply(userFeaturesRepo);
  const view = userFeatures;
  const baseTime = Date.now() - 3_600_000;
  const writeStarted = performance.now();
  const objects = await writeUserFeatureObjects(stores.offline, dataConfig.project, layout, baseTime);
  const writeMs = performance.now() - writeStarted;

  /** A fresh project committing the shared objects, one commit per batch; returns its ref and commit seqs. */
  const freshProject = async (label: string): Promise<{ ref: ViewRef; seqs: number[] }> => {
    const project = `${id}_${label}`;
    projects.push(project);
    const seqs = await commitUserFeatureObjects(stores.registry(project), objects);
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
    await deleteByPattern(raw, `${keyPrefix}:{${ref.project}:*`);

    if (args['apply-only']) {
      // The same activities, in order, without Temporal.
      const fresh = await freshProject(`a${r}`);
      const env = new MockActivityEnvironment();
      const t0 = performance.now();
      const { generation, watermark } = (await env.run(activities.prepareMaterialization, fresh.ref)) as MaterializationStart;
      // As the workflow calls it: the pending commits at once, again from where a call stopped.
      for (let left = fresh.seqs, after = watermark; left.length > 0; ) {
        const applied = (await env.run(activities.applyCommits, { ...fresh.ref, generation, seqs: left, after })) as AppliedCommits;
        after = applied.appliedUpTo;
        left = left.filter((seq) => seq > after);
      }
      applyRps.push(totalRows / ((performance.now() - t0) / 1000));
      await deleteByPattern(raw, `${keyPrefix}:${fresh.ref.project}:*`);
      await deleteByPattern(raw, `${keyPrefix}:{${fresh.ref.project}:*`);
    }

    if (args.ceiling) {
      ceilingRps.push(await redisBenchmarkHset(dataConfig.online.url, { requests: totalRows, keyspace: entities, key: `${keyPrefix}-rb:h:__rand_int__` }));
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
      ? { applyOnly: { note: 'prepareMaterialization + applyCommits over the pending commits, without Temporal', rowsPerSecondMedian: median(applyRps), rowsPerSecond: applyRps.map(Math.round) } }
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
  await harness.close();
}
