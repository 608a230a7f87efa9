import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { shortActivity } from './activity-options.ts';
import type { ViewRef } from './contracts.ts';
import { materializeUpTo, type MaterializedUpTo } from './materialize-up-to.ts';

const { latestCommitSeq } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);

/**
 * What a Temporal Schedule starts in place of a CronJob: materialize the view up to its latest
 * commit, through the one `materialize/...` workflow of the view, so a scheduled run and an
 * ingestion never materialize the same view side by side.
 */
export async function scheduledMaterializeWorkflow(ref: ViewRef): Promise<MaterializedUpTo & { seq: number }> {
  const seq = await latestCommitSeq(ref);
  if (seq === 0) return { materialized: true, seq };
  const result = await materializeUpTo(ref, seq);
  // An ApplicationFailure fails the run; a plain Error would fail only its workflow task, retried
  // without end, and the schedule (overlap: skip) would skip every later tick.
  if (!result.materialized) throw ApplicationFailure.nonRetryable(`materialization of ${ref.view} v${ref.version} failed: ${result.reason}`);
  return { ...result, seq };
}
