/**
 * Freshness: how long after a 1k-row batch is committed offline its values are readable online,
 * with one Granary worker running in its own process (`granary worker`, as a user runs it).
 * Prints JSON: p50 / p90 / p99 / max against the goals (p50 <= 1 s, p99 <= 3 s), next to the
 * physical floor measured in the same run, and where the time went (from the workflow histories).
 *
 *   node --import tsx bench/freshness.ts [--batches 100] [--rows 1000] [--gap-ms 200] [--poll-ms 5]
 *     [--modes spaced,back-to-back] [--warmup 3] [--floor-repetitions 20] [--worker process | in-process]
 *     [--offline s3://granary/bench/<id> | /a/folder]
 *
 * Each batch updates the same `rows` entities of `user_features` with an event time 1 s newer than
 * the last batch's. Per batch: FeatureStore.push (validate, stage, run the ingest workflow: write
 * the Parquet object, commit it, hand the commit to the view's materialize workflow and wait until
 * it is online) while this process polls Redis every `poll-ms` (a raw ioredis pipeline of HMGET
 * `__et` on the row keys of the batch's first, middle and last entity) until all three hold the
 * batch's event time. Times (ms since epoch, one clock: the stack runs on this machine):
 * - committed: the registry's `committed_at` of the batch's commit (PostgreSQL `now()` in the
 *   commit's transaction), the moment its objects became visible offline;
 * - visible: the first poll that saw the batch's values;
 * - pushed / returned: when the push call was made / returned (it returns after the ingest
 *   workflow saw the watermark reach the commit, so after `visible`).
 * The figure is visible - committed; visible - pushed and returned - pushed are printed too.
 * Modes: `spaced` waits `gap-ms` after each push returned; `back-to-back` pushes the next batch as
 * soon as the last push returned (a producer calling push in a loop).
 *
 * The floor: the same rows as a raw ioredis pipeline of HSETs (12 fields, as Granary stores them)
 * plus an HMGET read-back of the last key, on the same Redis, median of `floor-repetitions`.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { FeatureStore } from '../sdk/feature-store.ts';
import { onlineTarget } from '../pipelines/registered-view.ts';
import type { RedisOnlineStore } from '../stores/online/redis-online-store.ts';
import { workflowIds, type ViewRef } from '../workflows/contracts.ts';
import { startWorkerProcess, type WorkerProcess } from '../scripts/worker-process.ts';
import { benchConfig, benchEnv } from './support/bench-config.ts';
import { startBenchHarness } from './support/bench-harness.ts';
import { median } from './support/median.ts';
import { deleteByPattern } from './support/redis-ceiling.ts';
import { userFeatureRows, userFeatures, userFeaturesRepo } from './support/user-features-data.ts';
import { workflowRuns, workflowTimeline, type ActivityTimes, type WorkflowTimeline } from './support/workflow-timeline.ts';

const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '100' },
    rows: { type: 'string', default: '1000' },
    'gap-ms': { type: 'string', default: '200' },
    'poll-ms': { type: 'string', default: '5' },
    modes: { type: 'string', default: 'spaced,back-to-back' },
    warmup: { type: 'string', default: '3' },
    'floor-repetitions': { type: 'string', default: '20' },
    worker: { type: 'string', default: 'process' },
    offline: { type: 'string' },
  },
});
const batches = Number(args.batches);
const rowsPerBatch = Number(args.rows);
const gapMs = Number(args['gap-ms']);
const pollMs = Number(args['poll-ms']);
const warmup = Number(args.warmup);
const floorRepetitions = Number(args['floor-repetitions']);
const modes = args.modes.split(',').map((m) => m.trim()).filter(Boolean);
for (const mode of modes) if (mode !== 'spaced' && mode !== 'back-to-back') throw new Error(`--modes: unknown mode '${mode}' (spaced, back-to-back)`);
if (args.worker !== 'process' && args.worker !== 'in-process') throw new Error(`--worker must be 'process' or 'in-process', got '${args.worker}'`);
const GOALS = { p50Ms: 1000, p99Ms: 3000 };
const BATCH_TIMEOUT_MS = 60_000;

const id = `bench_freshness_${randomBytes(4).toString('hex')}`;
const project = `${id}_data`;
const config = benchConfig(id, project, args.offline);
const ref: ViewRef = { project, view: userFeatures.name, version: 1 };
const now = () => performance.timeOrigin + performance.now();

interface BatchTimes {
  readonly mode: string;
  readonly batch: number;
  readonly seq: number;
  readonly pushedMs: number;
  readonly committedMs: number;
  readonly visibleMs: number;
  readonly returnedMs: number;
}

const harness = await startBenchHarness(config, { inProcessWorker: args.worker === 'in-process' });
const { stores, raw, client } = harness;
let worker: WorkerProcess | undefined;
let store: FeatureStore | undefined;
try {
  const registry = stores.registry();
  await registry.migrate();
  await registry.apply(userFeaturesRepo);
  if (args.worker === 'process') worker = await startWorkerProcess(benchEnv(id, project, args.offline));
  store = await FeatureStore.open({ config });

  const totalBatches = warmup + batches * modes.length;
  const layout = { rows: rowsPerBatch * totalBatches, entities: rowsPerBatch, batches: totalBatches };
  // Event times 1 s apart per batch, all in the past (ingest refuses the future).
  const baseTime = Date.now() - totalBatches * 1000 - 60_000;
  let probeKeys: string[] = [];
  const probeEntities = [0, rowsPerBatch >> 1, rowsPerBatch - 1];

  /** Pushes batch b, polling Redis until its values are visible; returns its times. */
  const measure = async (mode: string, b: number): Promise<BatchTimes> => {
    const rows = userFeatureRows(layout, b, baseTime);
    const expected = String(baseTime + b * 1000);
    const pushedMs = now();
    let returnedMs = 0;
    let failed: unknown;
    const pushing = store!.push(userFeatures.name, rows, { batchId: `b${b}` }).then(
      (result) => {
        returnedMs = now();
        return result;
      },
      (error: unknown) => {
        failed = error;
        throw error;
      },
    );
    let visibleMs = 0;
    while (probeKeys.length && !visibleMs) {
      const pipeline = raw.pipeline();
      // Layout 2: a row's first 8 bytes are its event time (float64 big-endian).
      for (const key of probeKeys) pipeline.getrangeBuffer(key, 0, 7);
      const replies = (await pipeline.exec()) ?? [];
      if (replies.every(([error, value]) => !error && (value as Buffer).length === 8 && String((value as Buffer).readDoubleBE(0)) === expected)) visibleMs = now();
      else if (failed !== undefined) break;
      else if (now() - pushedMs > BATCH_TIMEOUT_MS) throw new Error(`batch ${b} not visible after ${BATCH_TIMEOUT_MS} ms`);
      else await sleep(pollMs);
    }
    const result = await pushing;
    if (!result.materialized) throw new Error(`batch ${b} was not materialized: ${result.reason ?? 'no reason given'}`);
    const commit = await registry.commitFor(userFeatures.name, 1, `b${b}`);
    return { mode, batch: b, seq: result.seq, pushedMs, committedMs: commit!.committedAt.getTime(), visibleMs, returnedMs };
  };

  // Warm-up (not counted): the first batch creates the online generation; the row keys follow from it.
  for (let b = 0; b < warmup; b++) {
    await measure('warmup', b);
    if (b === 0) {
      const { generation } = await registry.activeGeneration(userFeatures.name, 1);
      const target = onlineTarget(ref, userFeatures, generation);
      const online = store!.stores.online as RedisOnlineStore;
      probeKeys = await Promise.all(probeEntities.map((e) => online.rowKey(target, [BigInt(e)])));
    }
  }

  const measured: BatchTimes[] = [];
  let next = warmup;
  for (const mode of modes) {
    for (let i = 0; i < batches; i++) {
      measured.push(await measure(mode, next++));
      if (mode === 'spaced') await sleep(gapMs);
    }
  }

  const floorMs = await measureFloor();
  const profile = await profileLatency(measured);

  const byMode = Object.fromEntries(
    modes.map((mode) => {
      const times = measured.filter((t) => t.mode === mode);
      const fromCommit = stats(times.map((t) => t.visibleMs - t.committedMs));
      return [
        mode,
        {
          note: mode === 'spaced' ? `the next push ${gapMs} ms after the last push returned` : 'the next push as soon as the last push returned',
          batches: times.length,
          visibleFromCommitMs: fromCommit,
          visibleFromPushMs: stats(times.map((t) => t.visibleMs - t.pushedMs)),
          pushReturnedMs: stats(times.map((t) => t.returnedMs - t.pushedMs)),
          goals: { ...GOALS, met: fromCommit.p50 <= GOALS.p50Ms && fromCommit.p99 <= GOALS.p99Ms },
          ratio: Number((fromCommit.p50 / floorMs).toFixed(1)),
        },
      ];
    }),
  );
  const result = {
    bench: 'freshness',
    redis: config.online.url,
    offline: stores.offline.root,
    worker:
      args.worker === 'process'
        ? 'one worker in its own process (granary worker, bin/granary.mjs), started before the first batch'
        : 'one worker in the benchmark process (bench/support/bench-harness.ts)',
    rowsPerBatch,
    features: userFeatures.features.length,
    warmupBatches: warmup,
    pollMs,
    note:
      'latency = visible - committed: committed is the registry commit time of the batch (committed_at, PostgreSQL now() in the commit transaction), visible the first Redis poll (raw GETRANGE of the event time in the packed header of 3 row keys of the batch, every pollMs) that saw the batch. visibleFromPushMs counts from the FeatureStore.push call; pushReturnedMs is when push returned (after the ingest workflow saw the watermark reach the commit). ratio = p50 of visibleFromCommitMs / floorMs.',
    modes: byMode,
    floor: {
      note: `the same ${rowsPerBatch} rows as one raw ioredis pipeline of HSETs (12 fields) plus an HMGET read-back, same Redis, median of ${floorRepetitions}`,
      ms: floorMs,
    },
    profile,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await store?.close();
  if (worker) {
    await worker.kill('SIGTERM');
  }
  await deleteByPattern(raw, `${config.online.keyPrefix}-floor:*`).catch(() => undefined);
  await harness.close();
}

/** p50 / p90 / p99 / max, ms, nearest rank. */
function stats(values: readonly number[]): { p50: number; p90: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Math.round(sorted.at(-1) ?? NaN) };
}

/** The physical floor: a batch's rows written with a raw pipelined HSET each, then read back. */
async function measureFloor(): Promise<number> {
  const rows = userFeatureRows({ rows: rowsPerBatch, entities: rowsPerBatch, batches: 1 }, 0, Date.now());
  const encoded = rows.map((row) => {
    const fields: string[] = ['__et', String((row.event_timestamp as Date).getTime()), '__ct', '0'];
    for (const feature of userFeatures.features) {
      const value = row[feature.name];
      fields.push(feature.name, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
    }
    return { key: `${config.online.keyPrefix}-floor:e:${String(row.user_id)}`, fields };
  });
  const times: number[] = [];
  for (let r = 0; r < floorRepetitions; r++) {
    const t0 = performance.now();
    const pipeline = raw.pipeline();
    for (const { key, fields } of encoded) pipeline.hset(key, ...fields);
    await pipeline.exec();
    await raw.hmget(encoded.at(-1)!.key, '__et');
    times.push(performance.now() - t0);
    await sleep(20);
  }
  return Number((median(times.map((t) => t * 1000)) / 1000).toFixed(1));
}

/**
 * Where the time went, from the workflow histories: per batch, the ingest workflow's steps and
 * the materialize run that applied its commit, as segments of the path push -> visible.
 */
async function profileLatency(measured: readonly BatchTimes[]) {
  const ingests = await Promise.all(measured.map((t) => workflowTimeline(client, workflowIds.ingest(ref, `b${t.batch}`))));
  const runs = await workflowRuns(client, workflowIds.materialize(ref));
  const applyOf = new Map<number, { run: WorkflowTimeline; apply: ActivityTimes }>();
  for (const run of runs) {
    for (const apply of run.activities) if (apply.name === 'applyCommit') applyOf.set((apply.input as { seq: number }).seq, { run, apply });
  }
  const segments: Record<string, number[]> = {};
  const add = (name: string, ms: number | undefined) => {
    if (ms !== undefined && Number.isFinite(ms)) (segments[name] ??= []).push(ms);
  };
  const handoff = { newRun: 0, runningRunSignalled: 0, runningRunUnsignalled: 0, firstStateCheckSawRunning: 0 };
  const latencyWhenSawRunning: number[] = [];
  const latencyOtherwise: number[] = [];
  for (const [i, t] of measured.entries()) {
    const ingest = ingests[i]!;
    const first = (name: string, after = 0) => ingest.activities.find((a) => a.name === name && a.scheduledMs >= after);
    const write = first('writeBatchObjects');
    const commit = first('commitBatch');
    const applied = applyOf.get(t.seq);
    if (!write || !commit || !applied) continue;
    const { run, apply } = applied;
    const state = first('materializationState', commit.completedMs);
    const request = ingest.activities.find((a) => a.name === 'requestMaterialization' && (a.completedMs ?? Infinity) <= apply.scheduledMs);
    const sawRunning = (state?.result as { running?: boolean } | undefined)?.running === true;
    if (sawRunning) handoff.firstStateCheckSawRunning++;
    (sawRunning ? latencyWhenSawRunning : latencyOtherwise).push(t.visibleMs - t.committedMs);
    if (run.startedMs >= commit.completedMs!) handoff.newRun++;
    else if (run.signalsMs.some((s) => s >= commit.completedMs! && s <= apply.scheduledMs)) handoff.runningRunSignalled++;
    else handoff.runningRunUnsignalled++;

    add('1 push call -> ingest workflow started (validate, stage Parquet, start)', ingest.startedMs - t.pushedMs);
    add('2 ingest started -> writeBatchObjects started (workflow task, activity dispatch)', write.startedMs! - ingest.startedMs);
    add('3 writeBatchObjects (read staged, write Parquet object)', write.completedMs! - write.startedMs!);
    add('4 writeBatchObjects done -> commitBatch started', commit.startedMs! - write.completedMs!);
    add('5 commitBatch (registry commit)', commit.completedMs! - commit.startedMs!);
    add('6 commitBatch done -> applyCommit scheduled (hand-off to the materialize workflow)', apply.scheduledMs - commit.completedMs!);
    const targets = first('migrationTargets', commit.completedMs);
    if (targets) add('6.1 migrationTargets, scheduled -> completed (ingest)', targets.completedMs! - targets.scheduledMs);
    if (state) add('6.2 materializationState, scheduled -> completed (ingest)', state.completedMs! - state.scheduledMs);
    if (request) add('6a commitBatch done -> requestMaterialization started (ingest: migrationTargets, state check, sleeps)', request.startedMs! - commit.completedMs!);
    if (request && run.startedMs >= request.scheduledMs) add('6b requestMaterialization started -> materialize run started (signal-with-start)', run.startedMs - request.startedMs!);
    if (run.startedMs >= commit.completedMs!) {
      add('6c materialize run started -> applyCommit scheduled (prepareMaterialization, pendingCommits)', apply.scheduledMs - run.startedMs);
      const prepare = run.activities.find((a) => a.name === 'prepareMaterialization');
      const pending = run.activities.find((a) => a.name === 'pendingCommits');
      if (prepare) add('6c.1 prepareMaterialization, scheduled -> completed', prepare.completedMs! - prepare.scheduledMs);
      if (pending) add('6c.2 pendingCommits, scheduled -> completed', pending.completedMs! - pending.scheduledMs);
    }
    add('7 applyCommit scheduled -> started', apply.startedMs! - apply.scheduledMs);
    add('8 applyCommit (read Parquet, monotonic write, watermark)', apply.completedMs! - apply.startedMs!);
    add('9 applyCommit completed -> seen by the poll (negative: seen before the completion was recorded)', t.visibleMs - apply.completedMs!);
    add('committed_at -> commitBatch completed (commit transaction to activity completion)', commit.completedMs! - t.committedMs);
  }
  const conditionWaits = runs.map((r) => {
    const last = r.timers.at(-1);
    return last && last.durationMs === 1000 && r.closedMs !== undefined ? r.closedMs - last.startedMs : undefined;
  });
  return {
    note: 'segments of push -> visible, ms over the measured batches (all modes), from the ingest workflow history and the materialize run that applied the batch commit (server event times); 6 splits into 6a/6b/6c where they apply',
    segmentsMs: Object.fromEntries(Object.entries(segments).map(([name, values]) => [name, { ...stats(values), n: values.length }])),
    handoff: {
      ...handoff,
      visibleFromCommitMs: {
        firstStateCheckSawRunning: latencyWhenSawRunning.length ? stats(latencyWhenSawRunning) : null,
        otherwise: latencyOtherwise.length ? stats(latencyOtherwise) : null,
      },
      note: 'how each commit reached a materialize run: a run started after the commit (newRun), a run already going that got a request signal before applying it, or one that found it by itself; firstStateCheckSawRunning: the ingest workflow first saw a run going, so it did not signal and slept (materializeUpTo)',
    },
    materializeRuns: runs.length,
    materializeRunsEndedByTheirOneSecondWait: conditionWaits.filter((w) => w !== undefined && w >= 990).length,
  };
}
