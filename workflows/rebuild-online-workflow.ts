import {
  continueAsNew,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import {
  failureTypes,
  rebuildProgressQuery,
  type RebuildInput,
  type RebuildProgress,
  type RebuildResult,
} from './contracts.ts';
import { failureType } from './failure-type.ts';

const { beginRebuild, markRebuiltUpTo, cutOver, pendingCommits } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { rebuildPartition, applyCommit, verifyGeneration, dropRetiredGenerations } =
  proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

const DEFAULT_PARTITIONS = 8;
const DEFAULT_PARALLELISM = 2;
const DEFAULT_RETIRE_AFTER_SECONDS = 60;
/** Times the build starts over because Redis lost the generation being built. */
const MAX_RESTARTS = 3;

/**
 * Disaster recovery for one view version: builds a new online generation from the committed
 * offline data (entity-hash partitions, each an activity: the latest row per entity, written
 * once), catches up with the commits that landed meanwhile, verifies the new generation
 * against the offline store, cuts over in one registry transaction, catches up once more, and
 * drops the old generation's keys after a grace period. Serving reads the old generation until
 * the cut-over and the new one right after. Materialization only ever writes the active
 * generation and the rebuild only the one it builds (until the cut-over makes it active), so the
 * two never fight; after the cut-over both apply commits to it, which is idempotent.
 */
export async function rebuildOnlineWorkflow(input: RebuildInput): Promise<RebuildResult> {
  const partitions = input.partitions ?? DEFAULT_PARTITIONS;
  const parallelism = Math.max(1, Math.min(input.parallelism ?? DEFAULT_PARALLELISM, partitions));
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

  try {
    const start = await beginRebuild(input);
    progress = { ...progress, ...start, state: 'building' };

    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < partitions) {
        const partition = next++;
        const done = await rebuildPartition({ ...input, generation: start.generation, upTo: start.upTo, partition, partitions });
        progress = {
          ...progress,
          partitionsDone: progress.partitionsDone + 1,
          entitiesWritten: progress.entitiesWritten + done.entities,
          rowsRead: progress.rowsRead + done.rowsRead,
        };
      }
    };
    await Promise.all(Array.from({ length: parallelism }, lane));

    const watermark = await markRebuiltUpTo({ ...input, generation: start.generation, upTo: start.upTo });
    progress = { ...progress, watermark, state: 'catching-up' };
    await catchUp(input, start.generation, (w) => (progress = { ...progress, watermark: w }), () => progress.watermark);

    progress = { ...progress, state: 'verifying' };
    const check = await verifyGeneration({ ...input, generation: start.generation });
    progress = { ...progress, state: 'cutting-over', verifiedEntities: check.matching };
    await cutOver({ ...input, generation: start.generation });
    // Commits that landed between the verify and the cut-over.
    await catchUp(input, start.generation, (w) => (progress = { ...progress, watermark: w }), () => progress.watermark);
  } catch (error) {
    if (failureType(error) === failureTypes.redisDataLost && (input.restarts ?? 0) < MAX_RESTARTS) {
      // Redis lost the generation being built: start the build again.
      await continueAsNew<typeof rebuildOnlineWorkflow>({ ...input, restarts: (input.restarts ?? 0) + 1 });
    }
    throw error;
  }

  progress = { ...progress, state: 'retiring' };
  await sleep(`${input.retireAfterSeconds ?? DEFAULT_RETIRE_AFTER_SECONDS}s`);
  await dropRetiredGenerations(input);
  progress = { ...progress, state: 'done' };
  return progress;
}

/** Applies, in order, every commit after the generation's watermark, until none is pending. */
async function catchUp(input: RebuildInput, generation: number, onWatermark: (w: number) => void, watermark: () => number): Promise<void> {
  for (;;) {
    const pending = await pendingCommits({ ...input, generation, after: watermark(), limit: 50 });
    if (pending.seqs.length === 0) return;
    for (const seq of pending.seqs) {
      await applyCommit({ ...input, generation, seq, after: watermark() });
      onWatermark(seq);
    }
  }
}
