/**
 * Disaster recovery throughput (issue 6): entities/s to rebuild the online store of 2M entities x
 * 10 features from 10M committed offline rows, next to a redis-benchmark ceiling on the same
 * Redis (pipelined HSET of the same 10 fields, one per entity) measured in the same run, and the
 * time extrapolated to 100M entities. Prints JSON.
 *
 *   npm run bench -- rebuild [--rows 10000000] [--entities 2000000] [--batches 10]
 *     [--partitions <workflow default, 8>] [--parallelism <workflow default, 2>] [--runs 1]
 *     [--retire-after 0] [--max-minutes 60] [--offline s3://granary/bench/<id> | /a/folder] [--no-ceiling]
 *     [--workers 0 (in-process) | N worker processes] [--snapshot [--snapshot-behind 0]]
 *   e.g. first small: npm run bench -- rebuild --rows 1000000 --entities 200000
 *
 * The objects are written once, untimed (one per batch of rows/batches rows; row i is entity
 * i % entities, event times rising with i, so each entity has rows/entities rows and the last
 * one wins). Each run commits those same objects in a fresh project (no materialization: Redis
 * holds nothing of it, as after a loss) and runs FeatureStore.rebuildOnline with an in-process
 * worker: the rebuild workflow and its activities (begin, one activity per entity-hash partition,
 * mark, catch-up, verify, cut-over), then the retire workflow it starts (the grace, then the drop),
 * timed from the call to the retire workflow's end.
 * With --workers N, the activities run on N `granary worker` processes instead (started before
 * the first run, each a process of its own as a user runs them): the JSON then names which
 * worker ran each partition, and gives each worker's peak RSS and CPU from /proc.
 * The retire grace is --retire-after seconds (0 by default), so the end-to-end figure includes
 * the drop of the old generation but no 60 s wait; the cut-over time is reported next to it.
 * Per-phase times come from the workflow history (activity scheduled to completed). A rebuild
 * still running after --max-minutes is terminated and the bench fails naming the pending
 * activities and their attempts (heartbeat-timeout retries would otherwise go on forever).
 * With --snapshot, each run first compacts the view (FeatureStore.compact: the compaction
 * workflow, with --partitions/--parallelism), timed apart (`snapshot.compactSeconds`, with its CPU),
 * and then times the rebuild as without it: the rebuild reads the snapshot's runs (one row per
 * entity) instead of every committed row. With --snapshot-behind K, the last K batches are
 * committed after the compaction, so the rebuild reads the snapshot plus those K commits.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { startWorkerProcess, type WorkerProcess } from '../scripts/worker-process.ts';
import { FeatureStore } from '../sdk/feature-store.ts';
import { rebuildProgressQuery, workflowIds, type RebuildProgress, type ViewRef } from '../workflows/contracts.ts';
import { benchConfig, benchEnv } from './support/bench-config.ts';
import { startBenchHarness } from './support/bench-harness.ts';
import { median } from './support/median.ts';
import { processUsage } from './support/process-usage.ts';
import { deleteByPattern, redisBenchmarkHset, redisBenchmarkSet } from './support/redis-ceiling.ts';
import { commitUserFeatureObjects, userFeatures, userFeaturesRepo, writeUserFeatureObjects } from './support/user-features-data.ts';

const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    rows: { type: 'string', default: '10000000' },
    entities: { type: 'string', default: '2000000' },
    batches: { type: 'string', default: '10' },
    partitions: { type: 'string' },
    parallelism: { type: 'string' },
    runs: { type: 'string', default: '1' },
    'retire-after': { type: 'string', default: '0' },
    'max-minutes': { type: 'string', default: '60' },
    offline: { type: 'string' },
    ceiling: { type: 'boolean', default: true },
    workers: { type: 'string', default: '0' },
    snapshot: { type: 'boolean', default: false },
    'snapshot-behind': { type: 'string', default: '0' },
  },
});
const positiveInt = (name: string, text: string | undefined, min = 1): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
};
const totalRows = positiveInt('rows', args.rows)!;
const entities = positiveInt('entities', args.entities)!;
const batches = positiveInt('batches', args.batches)!;
const runs = positiveInt('runs', args.runs)!;
const retireAfterSeconds = positiveInt('retire-after', args['retire-after'], 0)!;
const partitions = positiveInt('partitions', args.partitions);
const parallelism = positiveInt('parallelism', args.parallelism);
const maxMinutes = positiveInt('max-minutes', args['max-minutes'])!;
const workers = positiveInt('workers', args.workers, 0)!;
const snapshotBehind = positiveInt('snapshot-behind', args['snapshot-behind'], 0)!;
if (snapshotBehind > 0 && !args.snapshot) throw new Error('--snapshot-behind needs --snapshot');
if (totalRows < entities) throw new Error(`--rows (${totalRows}) must be at least --entities (${entities}): every entity needs a row`);
const layout = { rows: totalRows, entities, batches };
/** An HSET per entity, and at least 1M so the rate is not mostly connection set-up. */
const ceilingRequests = Math.max(entities, 1_000_000);
/** A packed row of the bench view's 10 features (layout 2): header 16, count 1, bitmap 2, 8 numbers x 8, a 2-letter string 3, a bool 1. */
const PACKED_ROW_BYTES = 87;

const id = `bench_rebuild_${randomBytes(4).toString('hex')}`;
const keyPrefix = `granary-bench-${id}`;
const configOf = (project: string) => benchConfig(id, project, args.offline);
const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** One activity type in the workflow history: how many ran, and from the first scheduled to the last completed. */
interface ActivitySpan {
  count: number;
  firstScheduledMs: number;
  lastClosedMs: number;
  /** Each activity's scheduled-to-closed time. */
  durationsMs: number[];
  /** Attempts beyond the first (heartbeat timeouts, failures), summed over the type's activities. */
  retries: number;
}

/** Per activity type, and the workflow's start and completion, in ms since epoch (server clock). */
function historyTimes(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>) {
  const scheduled = new Map<string, { type: string; at: number }>();
  const spans = new Map<string, ActivitySpan>();
  const retries = new Map<string, number>();
  /** Per activity type, how many attempts each worker (its identity, pid@host) started. */
  const startedBy = new Map<string, Record<string, number>>();
  let started = NaN;
  let completed = NaN;
  for (const event of history.events ?? []) {
    const at = tsToMs(event.eventTime);
    const eventId = String(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) started = at;
    if (event.workflowExecutionCompletedEventAttributes) completed = at;
    const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type) scheduled.set(eventId, { type, at });
    const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 0;
    const startedOf = event.activityTaskStartedEventAttributes ? scheduled.get(String(event.activityTaskStartedEventAttributes.scheduledEventId)) : undefined;
    if (startedOf) {
      const counts = startedBy.get(startedOf.type) ?? {};
      const identity = event.activityTaskStartedEventAttributes!.identity ?? 'unknown';
      counts[identity] = (counts[identity] ?? 0) + 1;
      startedBy.set(startedOf.type, counts);
    }
    const retried = attempt > 1 ? scheduled.get(String(event.activityTaskStartedEventAttributes!.scheduledEventId)) : undefined;
    if (retried) retries.set(retried.type, (retries.get(retried.type) ?? 0) + attempt - 1);
    const closed =
      event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
    const from = closed ? scheduled.get(String(closed.scheduledEventId)) : undefined;
    if (from) {
      const span = spans.get(from.type) ?? { count: 0, firstScheduledMs: from.at, lastClosedMs: at, durationsMs: [], retries: 0 };
      span.count += 1;
      span.firstScheduledMs = Math.min(span.firstScheduledMs, from.at);
      span.lastClosedMs = Math.max(span.lastClosedMs, at);
      span.durationsMs.push(at - from.at);
      spans.set(from.type, span);
    }
  }
  for (const [type, n] of retries) {
    const span = spans.get(type);
    if (span) span.retries = n;
  }
  return { started, completed, spans, startedBy };
}

/**
 * The rebuild's phases and the activity types each is made of. The partitions run side by side,
 * so the build is their span (first scheduled to last completed); every other phase runs one
 * activity at a time, so it is the sum of its activities' times (the two catch-ups together).
 */
const PHASES: Record<string, readonly string[]> = {
  begin: ['beginRebuild'],
  plan: ['planRebuild'],
  scatter: ['scatterSlice'],
  build: ['buildPartition', 'rebuildPartition'],
  mark: ['markRebuiltUpTo'],
  catchUp: ['pendingCommits', 'applyCommit', 'applyCommits'],
  verify: ['verifyPartition', 'finishVerify', 'verifyGeneration'],
  dropRuns: ['dropRebuildRuns'],
  cutOver: ['cutOver'],
  drop: ['dropRetiredGenerations'],
};

function phaseTimes(spans: ReadonlyMap<string, ActivitySpan>, workflowMs: number): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const [phase, types] of Object.entries(PHASES)) {
    const parts = types.flatMap((type) => spans.get(type) ?? []);
    // Phases run as lanes of activities: their span, first scheduled to last completed.
    phases[phase] = phase === 'scatter' || phase === 'build' || phase === 'verify'
      ? parts.reduce((ms, span) => Math.max(ms, span.lastClosedMs - span.firstScheduledMs), 0)
      : parts.reduce((ms, span) => ms + span.durationsMs.reduce((a, b) => a + b, 0), 0);
  }
  const inActivities = Object.values(phases).reduce((a, b) => a + b, 0);
  return { ...phases, betweenActivities: workflowMs - inActivities, workflow: workflowMs };
}

/**
 * Terminates a rebuild still running after `ms` (a retry storm would otherwise wait forever) and
 * returns what it was doing then; `cancel` when it finished in time.
 */
function deadline(ref: ViewRef, ms: number): { readonly stopped: () => string | undefined; cancel(): void } {
  let summary: string | undefined;
  const stop = async (): Promise<void> => {
    const handle = client.workflow.getHandle(workflowIds.rebuild(ref));
    let pending: string;
    try {
      const { raw: described } = await handle.describe();
      pending = (described.pendingActivities ?? [])
        .map((a) => `${a.activityType?.name} ${a.activityId}: attempt ${a.attempt}, last failure '${a.lastFailure?.message ?? 'none'}'`)
        .join('; ') || 'none';
    } catch (error) {
      pending = `unknown (describe failed: ${(error as Error).message})`;
    }
    summary = `still running after ${Math.round(ms / 60_000)} min; pending: ${pending}`;
    await handle.terminate(`bench rebuild ${summary}`).catch((error: Error) => console.error(`could not terminate ${handle.workflowId}: ${error.message}`));
  };
  const timer = setTimeout(() => void stop(), ms);
  return { stopped: () => summary, cancel: () => clearTimeout(timer) };
}

interface RunFigures {
  wallMs: number;
  toCutOverMs: number;
  phasesMs: Record<string, number>;
  partitionMs: number[];
  progress: RebuildProgress;
  rssPeakMiB: number;
  /** Activity attempts beyond the first, by type (only types that had any). */
  retries: Record<string, number>;
  /** Per activity type: how many, their span (first scheduled to last closed) and their summed times, ms. */
  activities: Record<string, { count: number; spanMs: number; sumMs: number }>;
  eventLoopDelayMaxMs: number;
  eventLoopDelayP99Ms: number;
  /** CPU time during the rebuild: this process (user + system) and the Redis server's (INFO cpu). */
  nodeCpuMs: number;
  redisCpuMs: number;
  /** With --workers N: each worker process's peak RSS during the run (sampled VmRSS) and CPU time during it. */
  workerRssPeakMiB: number[];
  workerCpuMs: number[];
  /** Build and verify partitions started per worker identity (attempts, from the history). */
  partitionsByWorker: Record<string, Record<string, number>>;
  /** With --snapshot: the compaction before the rebuild, wall ms and CPU ms (this process + workers + Redis not included). */
  compactMs: number | null;
  compactCpuMs: number | null;
  compactRowsRead: number | null;
}

/** The Redis server's CPU time so far (used_cpu_user + used_cpu_sys), in ms. */
async function redisCpuMs(): Promise<number> {
  const info = await raw.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000;
}

const dataConfig = configOf(`${id}_data`);
const harness = await startBenchHarness(dataConfig, { inProcessWorker: workers === 0 });
const { stores, raw, client } = harness;
const workerProcesses: WorkerProcess[] = [];
try {
  for (let w = 0; w < workers; w++) workerProcesses.push(await startWorkerProcess(benchEnv(id, `${id}_data`, args.offline)));
  const workerPids = workerProcesses.map((w) => w.child.pid!);
  // The objects, written once (not timed in the figure).
  const dataRegistry = stores.registry();
  await dataRegistry.migrate();
  await dataRegistry.apply(userFeaturesRepo);
  const baseTime = Date.now() - 3_600_000;
  const writeStarted = performance.now();
  const objects = await writeUserFeatureObjects(stores.offline, dataConfig.project, layout, baseTime);
  const writeMs = performance.now() - writeStarted;
  const rssAfterSetupMiB = mib(process.memoryUsage.rss());

  const figures: RunFigures[] = [];
  const ceilingRps: number[] = [];
  const setCeilingRps: number[] = [];
  for (let r = 0; r < runs; r++) {
    const project = `${id}_r${r}`;
    const afterSnapshot = args.snapshot ? Math.min(snapshotBehind, objects.length - 1) : 0;
    await commitUserFeatureObjects(stores.registry(project), objects.slice(0, objects.length - afterSnapshot));
    const store = await FeatureStore.open({ config: configOf(project) });
    try {
      let compacted: { ms: number; cpuMs: number; rowsRead: number } | null = null;
      if (args.snapshot) {
        const workerCpu = await Promise.all(workerPids.map(async (pid) => (await processUsage(pid)).cpuMs));
        const cpu0 = process.cpuUsage();
        const c0 = performance.now();
        const [result] = await store.compact([userFeatures.name], {
          ...(partitions === undefined ? {} : { partitions }),
          ...(parallelism === undefined ? {} : { parallelism }),
        });
        const ms = performance.now() - c0;
        const cpu = process.cpuUsage(cpu0);
        const workerCpuDuring = (await Promise.all(workerPids.map(async (pid, w) => (await processUsage(pid)).cpuMs - workerCpu[w]!))).reduce((a, b) => a + b, 0);
        if (snapshotBehind === 0 && result!.entities !== entities) throw new Error(`compaction of ${project} kept ${result!.entities} entities, expected ${entities}`);
        compacted = { ms, cpuMs: Math.round((cpu.user + cpu.system) / 1000 + workerCpuDuring), rowsRead: result!.rowsRead };
        console.error(`compaction run ${r + 1}/${runs}: ${Math.round(ms / 100) / 10} s, ${result!.rowsRead} rows read, ${result!.partitions} partitions`);
        if (afterSnapshot > 0) await commitUserFeatureObjects(stores.registry(project), objects.slice(objects.length - afterSnapshot), objects.length - afterSnapshot);
      }
      let rssPeak = process.memoryUsage.rss();
      const workerRssPeak = workerPids.map(() => 0);
      const sampleWorkers = () =>
        workerPids.forEach((pid, w) => void processUsage(pid).then((u) => (workerRssPeak[w] = Math.max(workerRssPeak[w]!, u.rssMiB)), () => undefined));
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
        sampleWorkers();
      }, 200);
      const workerCpuBefore = await Promise.all(workerPids.map(async (pid) => (await processUsage(pid)).cpuMs));
      const loopDelay = monitorEventLoopDelay({ resolution: 20 });
      loopDelay.enable();
      const redisCpuBefore = await redisCpuMs();
      const cpuBefore = process.cpuUsage();
      const t0 = performance.now();
      const ref = { project, view: userFeatures.name, version: 1 };
      const stop = deadline(ref, maxMinutes * 60_000);
      // Progress on stderr, queried on the harness's client (open until the end, unlike the store's).
      let seen = '';
      const progressTimer = setInterval(() => {
        client.workflow.getHandle(workflowIds.rebuild(ref)).query(rebuildProgressQuery).then((p) => {
          const line = `${p.state}, partitions ${p.partitionsDone}/${p.partitions}, ${p.entitiesWritten} entities written`;
          if (line !== seen) console.error(`rebuild run ${r + 1}/${runs} at ${Math.round((performance.now() - t0) / 1000)} s: ${(seen = line)}`);
        }, () => undefined);
      }, 1000);
      let handle;
      try {
        [handle] = await store.rebuildOnline([userFeatures.name], {
          wait: true,
          retireAfterSeconds,
          ...(partitions === undefined ? {} : { partitions }),
          ...(parallelism === undefined ? {} : { parallelism }),
        });
      } catch (error) {
        const stopped = stop.stopped();
        throw stopped ? new Error(`rebuild of ${project} (${entities} entities, ${totalRows} offline rows) ${stopped}`, { cause: error }) : error;
      } finally {
        stop.cancel();
        clearInterval(progressTimer);
        clearInterval(sampler);
        loopDelay.disable();
      }
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpuBefore);
      const workerCpuMs = await Promise.all(workerPids.map(async (pid, w) => (await processUsage(pid)).cpuMs - workerCpuBefore[w]!));
      const redisCpuDuring = (await redisCpuMs()) - redisCpuBefore;
      const progress = handle!.progress;
      if (progress.state !== 'done' || progress.entitiesWritten !== entities || progress.verifiedEntities !== entities) {
        throw new Error(
          `rebuild of ${project} ended in state '${progress.state}' with ${progress.entitiesWritten} entities written and ` +
            `${progress.verifiedEntities} verified (expected ${entities})`,
        );
      }
      const { started, completed: rebuildCompleted, spans, startedBy } = historyTimes(await client.workflow.getHandle(handle!.workflowId).fetchHistory());
      // Since the retire phase has a workflow of its own (issue 12, item 4), the drop is in its history.
      let completed = rebuildCompleted;
      if (progress.retire) {
        const retired = historyTimes(await client.workflow.getHandle(progress.retire.workflowId).fetchHistory());
        for (const [type, span] of retired.spans) spans.set(type, span);
        completed = Math.max(completed, retired.completed);
      }
      figures.push({
        wallMs,
        toCutOverMs: (spans.get('cutOver')?.lastClosedMs ?? NaN) - started,
        phasesMs: phaseTimes(spans, completed - started),
        partitionMs: spans.get('buildPartition')?.durationsMs ?? spans.get('rebuildPartition')?.durationsMs ?? [],
        progress,
        rssPeakMiB: mib(rssPeak),
        retries: Object.fromEntries([...spans].filter(([, span]) => span.retries > 0).map(([type, span]) => [type, span.retries])),
        activities: Object.fromEntries(
          [...spans].map(([type, span]) => [
            type,
            { count: span.count, spanMs: span.lastClosedMs - span.firstScheduledMs, sumMs: span.durationsMs.reduce((a, b) => a + b, 0) },
          ]),
        ),
        eventLoopDelayMaxMs: Math.round(loopDelay.max / 1e6),
        eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
        nodeCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        redisCpuMs: Math.round(redisCpuDuring),
        workerRssPeakMiB: workerRssPeak,
        workerCpuMs,
        partitionsByWorker: Object.fromEntries(['buildPartition', 'verifyPartition'].map((type) => [type, startedBy.get(type) ?? {}])),
        compactMs: compacted?.ms ?? null,
        compactCpuMs: compacted?.cpuMs ?? null,
        compactRowsRead: compacted?.rowsRead ?? null,
      });
    } finally {
      await store.close();
    }
    await deleteByPattern(raw, `${keyPrefix}:${project}:*`);
    await deleteByPattern(raw, `${keyPrefix}:{${project}:*`);

    if (args.ceiling) {
      ceilingRps.push(await redisBenchmarkHset(dataConfig.online.url, { requests: ceilingRequests, keyspace: entities, key: `${keyPrefix}-rb:h:__rand_int__` }));
      await deleteByPattern(raw, `${keyPrefix}-rb:*`);
      setCeilingRps.push(await redisBenchmarkSet(dataConfig.online.url, { requests: ceilingRequests, keyspace: entities, key: `${keyPrefix}-rb:s:__rand_int__`, valueBytes: PACKED_ROW_BYTES }));
      await deleteByPattern(raw, `${keyPrefix}-rb:*`);
    }
  }

  const entitiesPerSecond = figures.map((f) => entities / (f.wallMs / 1000));
  const rate = median(entitiesPerSecond);
  const rateToCutOver = median(figures.map((f) => entities / (f.toCutOverMs / 1000)));
  const ceiling = args.ceiling ? median(ceilingRps) : null;
  const last = figures.at(-1)!;
  const phaseNames = Object.keys(last.phasesMs);
  const result = {
    bench: 'rebuild',
    redis: dataConfig.online.url,
    offline: stores.offline.root,
    offlineRows: totalRows,
    entities,
    offlineRowsPerEntity: totalRows / entities,
    features: userFeatures.features.length,
    objects: batches,
    partitions: last.progress.partitions,
    parallelism: parallelism ?? 'workflow default',
    retireAfterSeconds,
    runs,
    worker:
      workers === 0
        ? 'in-process (one Node thread runs every activity of the rebuild)'
        : `${workers} worker process(es) (granary worker, bin/granary.mjs), each running up to --parallelism activities`,
    workers,
    partitionsByWorker: last.partitionsByWorker,
    partitionsByWorkerNote: 'build and verify partition attempts started by each worker (its identity, pid@host), from the rebuild\'s history (last run)',
    setup: {
      note: 'objects written and committed directly, not timed in the figures',
      writeObjectsMs: Math.round(writeMs),
      objectBytes: objects.reduce((n, o) => n + o.bytes, 0),
    },
    rebuild: {
      note:
        'FeatureStore.rebuildOnline({ wait: true }) on a fresh project (old generation empty), from the call to the workflow result: ' +
        `begin, partitions, mark, catch-up, verify, cut-over, ${retireAfterSeconds} s retire grace, drop of the old generation`,
      entitiesPerSecondMedian: rate,
      entitiesPerSecond: entitiesPerSecond.map(Math.round),
      offlineRowsPerSecondMedian: median(figures.map((f) => totalRows / (f.wallMs / 1000))),
      wallMs: figures.map((f) => Math.round(f.wallMs)),
      wallMsMedian: median(figures.map((f) => f.wallMs)),
      toCutOverMsMedian: median(figures.map((f) => f.toCutOverMs)),
      entitiesPerSecondToCutOverMedian: rateToCutOver,
      toCutOverNote: 'workflow start to the cut-over activity completed (serving reads the new generation from then on)',
      rowsRead: last.progress.rowsRead,
      rowsCommitted: last.progress.rowsCommitted ?? null,
      rowsReadNote: 'committed rows read by the build (the read-once build: each once, by the scatter of its slice; the partitions read only their runs)',
      rowsReadPerSecondOfScatterMedian: median(figures.map((f) => f.progress.rowsRead / ((f.phasesMs.scatter ?? NaN) / 1000))),
      phasesMsMedian: {
        note:
          'from the workflow history: build is the partitions\' span (first scheduled to last completed); the others the sum of their activities, ' +
          'scheduled to completed (catchUp: pendingCommits + applyCommit(s), both catch-ups); betweenActivities: workflow tasks, the retire timer, queueing; ' +
          'workflow: started to completed',
        ...Object.fromEntries(phaseNames.map((name) => [name, median(figures.map((f) => f.phasesMs[name] ?? NaN))])),
      },
      partitionMs: last.partitionMs,
      partitionMsNote: 'each partition activity, scheduled to completed (last run)',
      activities: last.activities,
      activitiesNote: 'per activity type (last run): count, span from the first scheduled to the last closed, and the sum of their scheduled-to-closed times',
      activityRetries: last.retries,
      activityRetriesNote: 'attempts beyond the first, by activity type, from the history (last run); a heartbeat timeout (10 s) restarts a partition\'s read',
      entitiesWritten: last.progress.entitiesWritten,
      verifiedEntities: last.progress.verifiedEntities,
      generation: last.progress.generation,
    },
    memory: {
      rssPeakDuringRebuildMiB: Math.max(...figures.map((f) => f.rssPeakMiB)),
      rssPeakNote:
        workers === 0 ? 'sampled every 200 ms during the rebuild; the worker runs in this process' : 'this process (the client) sampled every 200 ms; the workers are below',
      workerRssPeakMiB: workers === 0 ? null : workerPids.map((_, w) => Math.max(...figures.map((f) => f.workerRssPeakMiB[w]!))),
      workerRssPeakNote: 'each worker process\'s resident set (/proc VmRSS) sampled every 200 ms during the rebuilds: the memory a worker needs',
      rssAfterSetupMiB,
      maxRssProcessMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    cpu: {
      note:
        'CPU time during the rebuild, less sensitive than wall time to other load on a shared machine: this process (the worker and the ' +
        'workflow client; process.cpuUsage) and the Redis server (INFO cpu), per 1M entities',
      nodeCpuMsPer1MEntitiesMedian: median(figures.map((f) => Math.round(((f.nodeCpuMs + f.workerCpuMs.reduce((a, b) => a + b, 0)) * 1e6) / entities))),
      nodeCpuNote: 'this process plus every worker process (/proc utime + stime)',
      redisCpuMsPer1MEntitiesMedian: median(figures.map((f) => Math.round((f.redisCpuMs * 1e6) / entities))),
    },
    eventLoop: {
      note: 'this process\'s event-loop delay during the rebuild (it runs the activities, which must heartbeat within 10 s)',
      delayMaxMs: Math.max(...figures.map((f) => f.eventLoopDelayMaxMs)),
      delayP99MsMedian: median(figures.map((f) => f.eventLoopDelayP99Ms)),
    },
    ...(ceiling !== null
      ? {
          ceiling: {
            note: `redis-benchmark hset, 10 fields, -n ${ceilingRequests} -P 16 -c 50 -r ${entities}, same Redis, after each run`,
            hset10FieldsRpsMedian: ceiling,
            hset10FieldsRps: ceilingRps,
            setPackedNote: `redis-benchmark set <${PACKED_ROW_BYTES} bytes> PXAT, same -n/-P/-c/-r: the write of layout 2 (one packed string per entity), for reference`,
            setPackedRpsMedian: median(setCeilingRps),
            setPackedRps: setCeilingRps,
          },
          ratio: {
            rebuildToCeiling: Number((rate / ceiling).toFixed(4)),
            rebuildToSetCeiling: Number((rate / median(setCeilingRps)).toFixed(4)),
            // Issue 14 item 1 defines the rebuild as fill, catch-up, verify, cut-over: from the
            // start to the cut-over (the retire grace and the old generation's drop come after).
            cutOverToCeiling: Number((rateToCutOver / ceiling).toFixed(4)),
          },
        }
      : {}),
    snapshot: args.snapshot
      ? {
          note:
            'each run compacted the view first (the compaction workflow: scatter the commits, newest row per entity per partition, snapshot runs), ' +
            'not included in the rebuild figures; the rebuild then read the snapshot (one row per entity) and the commits after it (batchesCommittedAfterSnapshot)',
          compactSeconds: figures.map((f) => Number(((f.compactMs ?? NaN) / 1000).toFixed(1))),
          compactSecondsMedian: Number((median(figures.map((f) => f.compactMs ?? NaN)) / 1000).toFixed(1)),
          compactCpuMsPer1MEntitiesMedian: median(figures.map((f) => Math.round(((f.compactCpuMs ?? NaN) * 1e6) / entities))),
          compactCpuNote: 'this process plus every worker process during the compaction (Redis is not involved)',
          compactRowsRead: last.compactRowsRead,
          batchesCommittedAfterSnapshot: Math.min(snapshotBehind, batches - 1),
          rebuildSnapshotSeq: last.progress.snapshotSeq ?? null,
        }
      : null,
    extrapolated100MEntitiesSeconds: Math.round(100_000_000 / rate),
    extrapolated100MEntitiesToCutOverSeconds: Math.round(100_000_000 / rateToCutOver),
    extrapolation: {
      note:
        `linear in entities at the measured end-to-end rate (${rate} entities/s), with the same ${totalRows / entities} offline rows per entity, ` +
        `${last.progress.partitions} partitions and one worker. Memory is bounded by a slice (about 2M committed rows) or a partition, ` +
        'not by the view, but 100M entities need more partitions (each partition holds its entities\' newest rows) and more workers.',
      ceiling100MEntitiesSeconds: ceiling === null ? null : Math.round(100_000_000 / ceiling),
    },
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await Promise.all(workerProcesses.map((w) => w.kill('SIGTERM')));
  await harness.close();
}
