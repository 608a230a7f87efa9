import type { NewCommit } from '../stores/registry/commit-log.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';

export interface CommitBatchInput extends ViewRef, Omit<NewCommit, 'view' | 'version'> {}

/**
 * Inserts the batch's commit row: the moment its objects become visible, and their place in the
 * order materialization follows. Idempotent on (view, version, batch id).
 */
export function commitBatch(deps: ActivityDeps) {
  return async function commitBatch(input: CommitBatchInput): Promise<{ seq: number; created: boolean }> {
    const { commit, created } = await deps.registry(input.project).commit({
      view: input.view,
      version: input.version,
      batchId: input.batchId,
      schemaVersion: input.schemaVersion,
      // Dates crossed the workflow boundary as strings.
      objects: input.objects.map((o) => ({ ...o, minEventTime: new Date(o.minEventTime), maxEventTime: new Date(o.maxEventTime) })),
    });
    failpoint('after-commit');
    return { seq: commit.seq, created };
  };
}
