import { proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { VerifyReport } from '../pipelines/verify-view.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import { verifyProgressQuery, type VerifyInput, type VerifyProgress } from './contracts.ts';
import { inLanes } from './in-lanes.ts';

const { planVerify, dropRebuildRuns } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { scatterSlice, verifyPartition, reportVerify } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

const DEFAULT_PARTITIONS = 8;
const DEFAULT_PARALLELISM = 2;

/**
 * `granary verify` for one view version (`verify-online/<project>/<view>/v<version>`): checks
 * the active online generation against the offline store with the rebuild's machinery and
 * memory bound. The commits up to the generation's watermark are cut into slices (planVerify),
 * each slice's rows read once and scattered into entity-hash runs in the verify's scratch
 * (scatterSlice), then each partition compared entity by entity with Redis (verifyPartition:
 * heartbeating, a retry resumes after the entities compared), the counts summed with Redis' key
 * count (reportVerify), and the scratch dropped. Any worker takes any slice or partition.
 * Returns the report, divergent or not; it changes nothing online.
 */
export async function verifyOnlineWorkflow(input: VerifyInput): Promise<VerifyReport> {
  const ref = { project: input.project, view: input.view, version: input.version };
  let progress: VerifyProgress = { state: 'planning', generation: 0, slices: 0, slicesDone: 0, partitions: input.partitions ?? 0, partitionsDone: 0, entitiesCompared: 0 };
  setHandler(verifyProgressQuery, () => progress);

  const plan = await planVerify(ref);
  const { generation, upTo } = plan;
  // Unless asked, the plan's: partitions of about the same size whatever the view's.
  const partitions = input.partitions ?? plan.partitions ?? DEFAULT_PARTITIONS;
  const parallelism = Math.max(1, Math.min(input.parallelism ?? DEFAULT_PARALLELISM, partitions));
  progress = { ...progress, state: 'scattering', generation, partitions, slices: plan.slices.length };
  try {
    const runs: number[][] = [];
    let refused = 0;
    await inLanes(plan.slices.length, parallelism, async (slice) => {
      const { after, upTo: sliceUpTo } = plan.slices[slice]!;
      const scattered = await scatterSlice({ ...ref, generation, slice, after, upTo: sliceUpTo, partitions, scratch: 'verify' });
      runs[slice] = [...scattered.runs];
      refused += scattered.refused;
      progress = { ...progress, slicesDone: progress.slicesDone + 1 };
    });
    progress = { ...progress, state: 'verifying' };
    const reports: Awaited<ReturnType<typeof verifyPartition>>[] = [];
    await inLanes(partitions, parallelism, async (partition) => {
      const report = await verifyPartition({ ...ref, generation, partition, partitions, runs: runs.map((r) => r[partition]!), upTo, scratch: 'verify' });
      reports[partition] = report;
      progress = { ...progress, partitionsDone: progress.partitionsDone + 1, entitiesCompared: progress.entitiesCompared + report.offlineEntities };
    });
    progress = { ...progress, state: 'reporting' };
    const report = await reportVerify({ ...ref, generation, reports, refused });
    progress = { ...progress, state: 'done' };
    return report;
  } finally {
    await dropRebuildRuns({ ...ref, generation, scratch: 'verify' });
  }
}
