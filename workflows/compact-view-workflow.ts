import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import type { CompactInput, CompactResult } from './contracts.ts';
import { inLanes } from './in-lanes.ts';

const { planCompaction, recordSnapshot } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { scatterSlice, compactPartition, dropRebuildRuns } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

const DEFAULT_PARALLELISM = 2;

/**
 * Compacts a view version into a latest-value snapshot (`compact-view/<project>/<view>/v<version>`):
 * the newest committed row of each entity up to the latest commit seq, by entity-hash partition,
 * as runs in the offline store (`<project>/_snapshots/...`), recorded in the registry. It starts
 * from the newest snapshot of the same partition count, so a compaction after a few commits reads
 * the old snapshot's rows plus those commits. Every step is an idempotent activity at
 * deterministic keys (the scatter's scratch and the runs are keyed by the snapshot's seq), so a
 * retried or restarted compaction writes the same objects; run it on a schedule after commits.
 * A rebuild with the same partition count then reads the snapshot and only the commits after it
 * (rebuild-online-workflow.ts, patched 'snapshot-rebuild').
 */
export async function compactViewWorkflow(input: CompactInput): Promise<CompactResult> {
  const ref = { project: input.project, view: input.view, version: input.version };
  const plan = await planCompaction({ ...ref, ...(input.partitions === undefined ? {} : { partitions: input.partitions }) });
  const baseSeq = plan.base?.seq ?? 0;
  if (plan.upToDate) return { view: input.view, version: input.version, seq: plan.seq, partitions: plan.partitions, baseSeq, entities: 0, rowsRead: 0, rowsCommitted: plan.rowsCommitted, upToDate: true };
  const parallelism = Math.max(1, Math.min(input.parallelism ?? DEFAULT_PARALLELISM, plan.partitions));
  const scratch = { ...ref, generation: plan.seq, scratch: 'compact' as const };

  const runs: number[][] = [];
  let rowsRead = 0;
  await inLanes(plan.slices.length, parallelism, async (slice) => {
    const { after, upTo } = plan.slices[slice]!;
    runs[slice] = [...(await scatterSlice({ ...scratch, slice, after, upTo, partitions: plan.partitions })).runs];
  });
  const written: number[] = new Array<number>(plan.partitions).fill(0);
  let entities = 0;
  await inLanes(plan.partitions, parallelism, async (partition) => {
    const base = plan.base ? { seq: plan.base.seq, prefix: plan.base.prefix, runs: plan.base.runs[partition]! } : undefined;
    const done = await compactPartition({
      ...ref,
      seq: plan.seq,
      prefix: plan.prefix,
      partition,
      partitions: plan.partitions,
      runs: runs.map((r) => r[partition]!),
      ...(base ? { base } : {}),
    });
    written[partition] = done.runs;
    entities += done.entities;
    rowsRead += done.rowsRead;
  });
  await recordSnapshot({ ...ref, seq: plan.seq, prefix: plan.prefix, partitions: plan.partitions, runs: written, rowsCommitted: plan.rowsCommitted, entities });
  await dropRebuildRuns(scratch);
  return { view: input.view, version: input.version, seq: plan.seq, partitions: plan.partitions, baseSeq, entities, rowsRead, rowsCommitted: plan.rowsCommitted, upToDate: false };
}
