import {
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { shortActivity } from './activity-options.ts';
import { applyPendingCommits } from './apply-pending-commits.ts';
import {
  commitsAvailableSignal,
  failureTypes,
  materializeProgressQuery,
  type MaterializeInput,
  type MaterializeProgress,
  type MaterializeResult,
} from './contracts.ts';
import { failureType } from './failure-type.ts';

const { prepareMaterialization, requestRebuild } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);

/** Commits applied before continuing as new, to keep the history short. */
const COMMITS_PER_RUN = 200;

/**
 * Incremental materialization of one view version: applies, in commit order, every offline
 * commit after the watermark to the active online generation, advancing the watermark after
 * each. Rows that arrive late are applied like any other; the online store's monotonic write
 * keeps newer values. Runs until no commit is pending, then finishes; ingestion signals it (or
 * starts it) when new commits land.
 *
 * When Redis lost the generation (no marker), it does not trust its watermark: it starts the
 * view's rebuild (rebuild-online-workflow.ts) and finishes, or fails if the worker is configured
 * so. When a rebuild cut over, or Redis came back from an older snapshot, it starts again from
 * what the active generation holds.
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

  try {
    progress = await applyPending(input, progress, () => signalled, (v) => (signalled = v), (p) => (progress = p));
  } catch (error) {
    const type = failureType(error);
    if (type === failureTypes.redisRolledBack || type === failureTypes.generationRetired) {
      await continueAsNew<typeof materializeWorkflow>({ ...input, carried: { ...progress, state: 'starting' } });
    }
    if (type === failureTypes.redisDataLost && (await requestRebuild(input))) {
      progress = { ...progress, state: 'rebuild-requested' };
      return progress;
    }
    throw error;
  }
  progress = { ...progress, state: 'done' };
  return progress;
}

/** The loop: prepare, then apply pending commits in order until none is left and no signal came. */
async function applyPending(
  input: MaterializeInput,
  initial: MaterializeProgress,
  signalled: () => boolean,
  setSignalled: (value: boolean) => void,
  report: (progress: MaterializeProgress) => void,
): Promise<MaterializeProgress> {
  let progress = initial;
  const update = (next: MaterializeProgress) => {
    progress = next;
    report(next);
  };
  const start = await prepareMaterialization(input);
  update({ ...progress, generation: start.generation, watermark: start.watermark, target: start.latestSeq, state: 'applying' });

  let appliedThisRun = 0;
  for (;;) {
    await applyPendingCommits(input, progress.generation, () => progress.watermark, {
      beforeLookup: () => setSignalled(false),
      afterLookup: (pending) => {
        // A rebuild cut over: continue on the new active generation.
        if (pending.activeGeneration !== progress.generation) return continueAsNew<typeof materializeWorkflow>({ ...input, carried: { ...progress, state: 'starting' } });
        update({ ...progress, target: Math.max(progress.target, pending.latestSeq) });
      },
      applied: (seq, applied, commits) => {
        update({
          ...progress,
          // This run's position: the registry's watermark may be ahead of it after a Redis rollback.
          watermark: seq,
          commitsApplied: progress.commitsApplied + commits,
          rowsWritten: progress.rowsWritten + applied.written,
          rowsSkipped: progress.rowsSkipped + applied.skipped,
          rowsRefused: (progress.rowsRefused ?? 0) + (applied.refused ?? 0),
        });
        appliedThisRun += commits;
      },
      afterBatch: () => {
        if (appliedThisRun >= COMMITS_PER_RUN || workflowInfo().continueAsNewSuggested) return continueAsNew<typeof materializeWorkflow>({ ...input, carried: progress });
      },
    });
    // Nothing pending: finish, unless a new commit was announced meanwhile.
    if (signalled() || (await condition(signalled, '1s'))) {
      // A new request attached to this run: check Redis again, as a new run would (it may have
      // lost or rolled back the generation since this run started).
      if (patched('recheck-redis-on-request')) {
        const again = await prepareMaterialization(input);
        if (again.generation === progress.generation) update({ ...progress, watermark: Math.min(progress.watermark, again.watermark) });
      }
      continue;
    }
    return progress;
  }
}
