import {
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import {
  commitsAvailableSignal,
  materializeProgressQuery,
  type MaterializeInput,
  type MaterializeProgress,
  type MaterializeResult,
} from './contracts.ts';

const { prepareMaterialization, pendingCommits } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { applyCommit } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

/** Commits applied before continuing as new, to keep the history short. */
const COMMITS_PER_RUN = 200;
const COMMITS_PER_LOOKUP = 50;

/**
 * Incremental materialization of one view version: applies, in commit order, every offline
 * commit after the watermark to the active online generation, advancing the watermark after
 * each. Rows that arrive late are applied like any other; the online store's monotonic write
 * keeps newer values. Runs until no commit is pending, then finishes; ingestion signals it (or
 * starts it) when new commits land.
 */
export async function materializeWorkflow(input: MaterializeInput): Promise<MaterializeResult> {
  let progress: MaterializeProgress = input.carried ?? {
    generation: 0,
    watermark: 0,
    target: 0,
    commitsApplied: 0,
    rowsWritten: 0,
    rowsSkipped: 0,
    state: 'starting',
  };
  let signalled = false;
  setHandler(commitsAvailableSignal, () => {
    signalled = true;
  });
  setHandler(materializeProgressQuery, () => progress);

  const start = await prepareMaterialization(input);
  progress = { ...progress, generation: start.generation, watermark: start.watermark, target: start.latestSeq, state: 'applying' };

  let appliedThisRun = 0;
  for (;;) {
    signalled = false;
    const pending = await pendingCommits({ ...input, generation: progress.generation, after: progress.watermark, limit: COMMITS_PER_LOOKUP });
    progress = { ...progress, target: Math.max(progress.target, pending.latestSeq) };
    if (pending.seqs.length === 0) {
      // Nothing pending: finish, unless a new commit was announced meanwhile.
      if (signalled || (await condition(() => signalled, '1s'))) continue;
      break;
    }
    for (const seq of pending.seqs) {
      const applied = await applyCommit({ ...input, generation: progress.generation, seq });
      progress = {
        ...progress,
        watermark: applied.watermark,
        commitsApplied: progress.commitsApplied + 1,
        rowsWritten: progress.rowsWritten + applied.written,
        rowsSkipped: progress.rowsSkipped + applied.skipped,
      };
      appliedThisRun += 1;
    }
    if (appliedThisRun >= COMMITS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof materializeWorkflow>({ ...input, carried: progress });
    }
  }
  progress = { ...progress, state: 'done' };
  return progress;
}
