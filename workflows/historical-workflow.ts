import { proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import { historicalProgressQuery, type HistoricalInput, type HistoricalProgress, type HistoricalResult } from './contracts.ts';
import { inLanes } from './in-lanes.ts';

const { dropHistoricalRun } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { planHistorical, joinHistoricalPartition, mergeHistorical } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

const DEFAULT_PARALLELISM = 4;

/**
 * A training set across workers (`historical/<project>/<id>`, `granary historical --distributed`):
 * the plan splits the entity rows and the committed feature rows into entity-hash partitions in
 * the run's scratch (planHistorical), one activity per partition joins its rows on whichever
 * worker takes it (joinHistoricalPartition: heartbeating; a retry redoes the partition to the
 * same key), a merge puts the rows back into the input's order at the run's result key
 * (mergeHistorical), and the scratch is dropped whatever happened. The caller copies the result
 * to its destination. Progress: partitions done.
 */
export async function historicalWorkflow(input: HistoricalInput): Promise<HistoricalResult> {
  const run = { project: input.project, id: input.id };
  const tuning = { ...(input.memoryLimit === undefined ? {} : { memoryLimit: input.memoryLimit }), ...(input.threads === undefined ? {} : { threads: input.threads }) };
  let progress: HistoricalProgress = { state: 'planning', partitions: input.partitions ?? 0, partitionsDone: 0, rows: 0 };
  setHandler(historicalProgressQuery, () => progress);
  try {
    const plan = await planHistorical(input);
    progress = { ...progress, state: 'joining', partitions: plan.partitions, rows: plan.rows };
    // A partition failing for good stops the lanes from starting more, and the run waits for those
    // in flight before it fails: nothing writes to the scratch after it is dropped.
    let failure: { readonly error: unknown } | undefined;
    await inLanes(plan.partitions, Math.max(1, input.parallelism ?? DEFAULT_PARALLELISM), async (partition) => {
      if (failure) return;
      try {
        await joinHistoricalPartition({ ...run, ...tuning, partition });
        progress = { ...progress, partitionsDone: progress.partitionsDone + 1 };
      } catch (error) {
        failure ??= { error };
      }
    });
    if (failure) throw failure.error;
    progress = { ...progress, state: 'merging' };
    const merged = await mergeHistorical({ ...run, ...tuning });
    progress = { ...progress, state: 'done' };
    return { rows: merged.rows, bytes: merged.bytes, columns: merged.columns, partitions: plan.partitions, resultKey: merged.resultKey };
  } finally {
    await dropHistoricalRun(run);
  }
}
