import {
  continueAsNew,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type * as activities from '../activities/index.ts';
import type { PlannedSnapshot } from '../activities/plan-rebuild.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import {
  failureTypes,
  rebuildProgressQuery,
  rebuildRequestedSignal,
  workflowIds,
  type RebuildInput,
  type RebuildProgress,
  type RebuildRequest,
  type RebuildResult,
  type RetireInput,
  type RetireResult,
} from './contracts.ts';
import { applyPendingCommits } from './apply-pending-commits.ts';
import { failureType } from './failure-type.ts';
import { inLanes } from './in-lanes.ts';

const { beginRebuild, markRebuiltUpTo, cutOver } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { rebuildPartition, verifyGeneration, dropRetiredGenerations, planRebuild, scatterSlice, buildPartition, dropRebuildRuns, verifyPartition, finishVerify } =
  proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

const DEFAULT_PARTITIONS = 8;
const DEFAULT_PARALLELISM = 2;
const DEFAULT_RETIRE_AFTER_SECONDS = 60;
/** Times the build starts over because Redis lost the generation being built. */
const MAX_RESTARTS = 3;

/**
 * Workflow versions (`patched`): runs started by older code replay as they ran.
 * - retire-in-own-workflow: the old generation is dropped by a workflow of its own
 *   (retireGenerationWorkflow), so the rebuild's id is free once it cut over; before, the rebuild
 *   waited out the retire grace itself and a new request attached to a run that would not build.
 * - rebuild-after-late-request: a request that arrives after the build was sealed gets a new build.
 * - read-once-rebuild: the build reads each committed row once (slices of commits scattered into
 *   per-partition runs, then each partition built from its runs), and verify runs per partition
 *   from those runs (verifyPartition, then finishVerify), where older runs had every partition
 *   read every committed object and verified the whole view in one activity.
 */
const RETIRE_IN_OWN_WORKFLOW = 'retire-in-own-workflow';
const REBUILD_AFTER_LATE_REQUEST = 'rebuild-after-late-request';
const READ_ONCE_REBUILD = 'read-once-rebuild';
/**
 * - partitions-from-plan: without `partitions` in the request, the read-once build takes the
 *   plan's (enough that a partition holds about 1.25M rows: memory stays flat as views grow),
 *   where older runs always used 8.
 */
const PARTITIONS_FROM_PLAN = 'partitions-from-plan';
/**
 * - snapshot-rebuild: the plan may start from a compacted snapshot of the view version
 *   (compact-view-workflow.ts) with the requested partition count (or, unrequested, the
 *   snapshot's): its slices cover only the commits after the snapshot's seq, and each build and
 *   verify partition reads its snapshot runs first. Older runs planned without snapshots.
 */
const SNAPSHOT_REBUILD = 'snapshot-rebuild';

/**
 * Disaster recovery for one view version: builds a new online generation from the committed
 * offline data (entity-hash partitions, each an activity: the latest row per entity, written
 * once), catches up with the commits that landed meanwhile, verifies the new generation
 * against the offline store, cuts over in one registry transaction, catches up once more, and
 * leaves dropping the old generation's keys after a grace period to a workflow of its own
 * (retireGenerationWorkflow). Serving reads the old generation until the cut-over and the new
 * one right after. Materialization only ever writes the active generation and the rebuild only
 * the one it builds (until the cut-over makes it active), so the two never fight; after the
 * cut-over both apply commits to it, which is idempotent.
 *
 * Invariant 8: every request (signal-with-start of `rebuildRequestedSignal`, sdk/online-rebuild.ts)
 * gets a build that starts after it. A request that attaches before the build is sealed (before
 * its partitions are marked written) is served by this run: a Redis loss until then takes the
 * marker of the generation being built, which markRebuiltUpTo notices, and the build starts over.
 * A request that arrives later (catching up, verifying, cutting over) is served by a new build
 * that this run continues as once it is done; callers waiting on the result follow the chain.
 */
export async function rebuildOnlineWorkflow(input: RebuildInput): Promise<RebuildResult> {
  let partitions = input.partitions ?? DEFAULT_PARTITIONS;
  let parallelism = Math.max(1, Math.min(input.parallelism ?? DEFAULT_PARALLELISM, partitions));
  const retireAfterSeconds = input.retireAfterSeconds ?? DEFAULT_RETIRE_AFTER_SECONDS;
  let progress: RebuildProgress = {
    state: 'starting',
    generation: 0,
    previousGeneration: 0,
    upTo: 0,
    watermark: 0,
    partitions,
    partitionsDone: 0,
    entitiesWritten: 0,
    rowsRead: 0,
    startedAt: Date.now(),
  };
  setHandler(rebuildProgressQuery, () => progress);
  let sealed = false;
  let lateRequest: RebuildRequest | undefined;
  setHandler(rebuildRequestedSignal, (request = {}) => {
    if (!sealed) return; // this run's build is still to come: it serves the request
    lateRequest = { ...lateRequest, ...request };
    progress = { ...progress, rebuildFollows: true };
  });

  try {
    const start = await beginRebuild(input);
    progress = { ...progress, ...start, state: 'building' };

    const built = (done: { entities: number }) => {
      progress = { ...progress, partitionsDone: progress.partitionsDone + 1, entitiesWritten: progress.entitiesWritten + done.entities };
    };
    // The read-once build's runs per slice (runs[slice][partition]); its verify reads them too.
    const runs: number[][] = [];
    /** The snapshot the read-once build starts from (planRebuild with snapshots), if any. */
    let snapshot: PlannedSnapshot | undefined;
    const readOnce = patched(READ_ONCE_REBUILD);
    if (readOnce) {
      const generation = start.generation;
      const plan = await planRebuild({ ...input, generation, upTo: start.upTo, ...(patched(SNAPSHOT_REBUILD) ? { snapshots: true } : {}) });
      if (input.partitions === undefined && plan.partitions !== undefined && patched(PARTITIONS_FROM_PLAN)) {
        partitions = plan.partitions;
        parallelism = Math.max(1, Math.min(input.parallelism ?? DEFAULT_PARALLELISM, partitions));
      }
      snapshot = plan.snapshot;
      progress = { ...progress, partitions, rowsCommitted: plan.rowsCommitted, slices: plan.slices.length, slicesDone: 0, ...(snapshot ? { snapshotSeq: snapshot.seq } : {}) };
      await inLanes(plan.slices.length, parallelism, async (slice) => {
        const scattered = await scatterSlice({ ...input, generation, slice, after: plan.slices[slice]!.after, upTo: plan.slices[slice]!.upTo, partitions });
        runs[slice] = [...scattered.runs];
        progress = { ...progress, slicesDone: (progress.slicesDone ?? 0) + 1, rowsRead: progress.rowsRead + scattered.rowsRead, rowsRefused: (progress.rowsRefused ?? 0) + scattered.refused };
      });
      await inLanes(partitions, parallelism, async (partition) => {
        built(await buildPartition({ ...input, generation, partition, partitions, runs: runs.map((r) => r[partition]!), ...snapshotRuns(snapshot, partition) }));
      });
    } else {
      await inLanes(partitions, parallelism, async (partition) => {
        const done = await rebuildPartition({ ...input, generation: start.generation, upTo: start.upTo, partition, partitions });
        built(done);
        progress = { ...progress, rowsRead: progress.rowsRead + done.rowsRead };
      });
    }

    sealed = true;
    const watermark = await markRebuiltUpTo({ ...input, generation: start.generation, upTo: start.upTo });
    progress = { ...progress, watermark, state: 'catching-up' };
    await applyPendingCommits(input, start.generation, () => progress.watermark, { applied: (w) => (progress = { ...progress, watermark: w }) });

    progress = { ...progress, state: 'verifying' };
    const check = readOnce ? await verifyInPartitions(input, start, partitions, parallelism, runs, snapshot) : await verifyGeneration({ ...input, generation: start.generation });
    if (readOnce) await dropRebuildRuns({ ...input, generation: start.generation });
    progress = { ...progress, state: 'cutting-over', verifiedEntities: check.matching };
    await cutOver({ ...input, generation: start.generation });
    // Commits that landed between the verify and the cut-over.
    await applyPendingCommits(input, start.generation, () => progress.watermark, { applied: (w) => (progress = { ...progress, watermark: w }) });
  } catch (error) {
    const type = failureType(error);
    if (type === failureTypes.redisDataLost && (input.restarts ?? 0) < MAX_RESTARTS) {
      // Redis lost the generation being built: start the build again.
      await continueAsNew<typeof rebuildOnlineWorkflow>({ ...input, restarts: (input.restarts ?? 0) + 1 });
    }
    if (type === failureTypes.rebuildDiverged && lateRequest !== undefined && patched(REBUILD_AFTER_LATE_REQUEST)) {
      // The generation went wrong after its build (a loss while verifying), and a request came since: build again.
      await continueAsNew<typeof rebuildOnlineWorkflow>(nextBuild(input, lateRequest));
    }
    throw error;
  }

  if (!patched(RETIRE_IN_OWN_WORKFLOW)) {
    // A run started by older code: it waits out the retire grace itself, holding the rebuild's id.
    progress = { ...progress, state: 'retiring' };
    await sleep(`${retireAfterSeconds}s`);
    await dropRetiredGenerations(input);
    progress = { ...progress, state: 'done' };
    if (lateRequest !== undefined && patched(REBUILD_AFTER_LATE_REQUEST)) {
      await continueAsNew<typeof rebuildOnlineWorkflow>(nextBuild(input, lateRequest));
    }
    return progress;
  }

  const retire: RetireInput = {
    project: input.project,
    view: input.view,
    version: input.version,
    generation: progress.previousGeneration,
    retireAfterSeconds,
  };
  const retireWorkflowId = workflowIds.retire(input, retire.generation);
  try {
    await startChild(retireGenerationWorkflow, { workflowId: retireWorkflowId, args: [retire], parentClosePolicy: ParentClosePolicy.ABANDON });
  } catch (error) {
    // Started before (the same cut-over replayed): it drops the generation either way.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  progress = { ...progress, state: 'done', retire: { workflowId: retireWorkflowId, generation: retire.generation, afterSeconds: retireAfterSeconds } };
  if (lateRequest !== undefined) {
    // Requested after this build was sealed: those callers get a build that starts now.
    await continueAsNew<typeof rebuildOnlineWorkflow>(nextBuild(input, lateRequest));
  }
  return progress;
}

/**
 * A rebuild's retire phase, in a workflow of its own (`retire-online/<project>/<view>/v<version>/g<generation>`,
 * started by the rebuild when it cut over, and left running when the rebuild ends): waits out
 * the grace, in which readers that looked the old generation up just before the cut-over finish
 * their reads, then drops the keys of the retired generation (and of any older one still retired).
 */
export async function retireGenerationWorkflow(input: RetireInput): Promise<RetireResult> {
  await sleep(`${input.retireAfterSeconds}s`);
  const keysDropped = await dropRetiredGenerations({ project: input.project, view: input.view, version: input.version, upToGeneration: input.generation });
  return { generation: input.generation, keysDropped };
}

/** The next run for requests that came after this run's build: their tuning, a fresh restart count. */
function nextBuild(input: RebuildInput, request: RebuildRequest): RebuildInput {
  const { restarts: _restarts, ...rest } = input;
  return { ...rest, ...request };
}

/** The read-once build's verify: one verifyPartition activity per partition (from the build's runs), then finishVerify over their reports. */
async function verifyInPartitions(
  input: RebuildInput,
  start: { generation: number; upTo: number },
  partitions: number,
  parallelism: number,
  runs: readonly (readonly number[])[],
  snapshot: PlannedSnapshot | undefined,
): Promise<Awaited<ReturnType<typeof verifyGeneration>>> {
  const reports: Awaited<ReturnType<typeof verifyPartition>>[] = [];
  await inLanes(partitions, parallelism, async (partition) => {
    reports[partition] = await verifyPartition({
      ...input,
      generation: start.generation,
      partition,
      partitions,
      runs: runs.map((r) => r[partition]!),
      upTo: start.upTo,
      ...snapshotRuns(snapshot, partition),
    });
  });
  return finishVerify({ ...input, generation: start.generation, reports });
}

/** A partition's part of the plan's snapshot, as a build or verify input field (none without a snapshot: older inputs unchanged). */
function snapshotRuns(snapshot: PlannedSnapshot | undefined, partition: number): { snapshot?: { seq: number; prefix: string; runs: number } } {
  return snapshot ? { snapshot: { seq: snapshot.seq, prefix: snapshot.prefix, runs: snapshot.runs[partition]! } } : {};
}
