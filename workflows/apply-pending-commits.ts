import { patched, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import type { ViewRef } from './contracts.ts';

type Activities = ReturnType<typeof activities.createActivities>;
const { pendingCommits } = proxyActivities<Activities>(shortActivity);
const { applyCommit, applyCommits } = proxyActivities<Activities>(longActivity);

export type PendingCommits = Awaited<ReturnType<Activities['pendingCommits']>>;
export type AppliedCommit = Awaited<ReturnType<Activities['applyCommit']>>;

/**
 * Workflow version (`patched`): the pending commits of a lookup are applied by one applyCommits
 * call per up to 2M input rows (each row read once, the newest row per entity written), where
 * runs started by older code apply them one applyCommit call per commit.
 */
export const APPLY_COMMIT_BATCHES = 'apply-commit-batches';

/** Commits asked for per lookup. */
export const COMMITS_PER_LOOKUP = 50;

/** What a caller does around the loop; each hook runs where the name says, and issues no command of its own unless it says so. */
export interface PendingCommitsHooks {
  /** Before each lookup (materialize: forget the last signal). */
  readonly beforeLookup?: () => void;
  /** After each lookup, before the commits are applied (materialize: continue as new on another generation; its target). */
  readonly afterLookup?: (pending: PendingCommits) => Promise<void> | void;
  /** After each commit, or run of `commits` commits, is applied, in order: the watermark is now `seq`. */
  readonly applied: (seq: number, result: AppliedCommit, commits: number) => void;
  /** After each batch of applied commits (materialize: continue as new after enough of them). */
  readonly afterBatch?: () => Promise<void> | void;
}

/**
 * The pending-commits-then-apply loop of materialization and of a rebuild's catch-up: applies, in
 * commit order, every commit after `watermark()` to `generation`, asking for
 * COMMITS_PER_LOOKUP at a time, until a lookup finds none. `input` goes into each activity's
 * input as the caller has it (activity inputs are what they were before this function existed).
 *
 * @example
 *   await applyPendingCommits(input, generation, () => progress.watermark, { applied: (seq) => (progress = { ...progress, watermark: seq }) });
 */
export async function applyPendingCommits(input: ViewRef, generation: number, watermark: () => number, hooks: PendingCommitsHooks): Promise<void> {
  for (;;) {
    hooks.beforeLookup?.();
    const pending = await pendingCommits({ ...input, generation, after: watermark(), limit: COMMITS_PER_LOOKUP });
    // Awaited only when a hook returns a promise: no extra step where there was none.
    const afterLookup = hooks.afterLookup?.(pending);
    if (afterLookup) await afterLookup;
    if (pending.seqs.length === 0) return;
    if (patched(APPLY_COMMIT_BATCHES)) {
      for (let left = pending.seqs; left.length > 0; ) {
        const result = await applyCommits({ ...input, generation, seqs: left, after: watermark() });
        hooks.applied(result.appliedUpTo, result, result.commits);
        left = left.filter((seq) => seq > result.appliedUpTo);
      }
    } else {
      for (const seq of pending.seqs) hooks.applied(seq, await applyCommit({ ...input, generation, seq, after: watermark() }), 1);
    }
    const afterBatch = hooks.afterBatch?.();
    if (afterBatch) await afterBatch;
  }
}
