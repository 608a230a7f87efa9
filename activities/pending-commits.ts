import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';

export interface PendingCommitsInput extends ViewRef {
  readonly generation: number;
  readonly after: number;
  readonly limit: number;
}

export interface PendingCommits {
  readonly seqs: number[];
  readonly latestSeq: number;
  /** The active generation now: when it is no longer the one being applied to, a rebuild cut over. */
  readonly activeGeneration: number;
}

/** The next commits of the view after `after`, in order (their seqs only: rows never travel in workflows). */
export function pendingCommits(deps: ActivityDeps) {
  return async function pendingCommits(input: PendingCommitsInput): Promise<PendingCommits> {
    const registry = deps.registry(input.project);
    const commits = await registry.commits(input.view, input.version, { after: input.after, limit: input.limit });
    return {
      seqs: commits.map((c) => c.seq),
      latestSeq: await registry.latestCommitSeq(input.view, input.version),
      activeGeneration: (await registry.activeGeneration(input.view, input.version)).generation,
    };
  };
}

export function latestCommitSeq(deps: ActivityDeps) {
  return async function latestCommitSeq(ref: ViewRef): Promise<number> {
    return deps.registry(ref.project).latestCommitSeq(ref.view, ref.version);
  };
}
