import {
  ApplicationFailure,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import {
  failureTypes,
  migrationProgressQuery,
  rollbackMigrationSignal,
  startingMigrationProgress,
  type MigrateViewInput,
  type MigrationProgress,
  type MigrationResult,
} from './contracts.ts';
import { failureMessage } from './failure-type.ts';
import { materializeUpTo } from './materialize-up-to.ts';

const { beginMigration, switchServices, pinnedServices, failMigration, rollBackMigration, latestCommitSeq } =
  proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);
const { backfillMigration, verifyMigration, removeOldOnlineKeys } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);

const DEFAULT_GRACE_SECONDS = 24 * 3600;
const DEFAULT_COMMITS_PER_ACTIVITY = 20;

/**
 * A breaking change to a feature view, carried out: version `to` (declared with `migrateFrom:
 * { version: from, rename, cast, transform }`) is filled from version `from`, checked, and
 * takes over from it, while `from` keeps serving until the switch. Every step is an idempotent
 * activity; the workflow id is `migrate-view/<project>/<view>/v<from>-to-v<to>`, so CI running
 * the same job twice attaches to the one migration.
 *
 *   1. begin: check both versions and the declaration (and that the worker can run a TypeScript
 *      transform), record the migration as running. `to` was registered 'migrating' by apply.
 *   2. backfill: every commit of `from`, in commit order, rewritten into `to`, in pages of
 *      commits (one activity each, heartbeating the commit and object reached).
 *   3. materialize `to` into its own online keys through its one materialization workflow.
 *   4. verify `to` (online = offline, verify-view.ts) and compare row counts commit by commit.
 *   5. switch: unpinned feature services move to `to`; services pinned to `from` keep it.
 *   6. `from` deprecated (same transaction), then after the grace period its online keys are
 *      removed; never its offline objects.
 *
 * Decisions, as a user of a production feature store would expect them:
 * - Which version an unpinned reference means is the registry's status, not a rewrite of
 *   services: the highest 'active' version (definitions/changes/current-version.ts). A version
 *   declared with migrateFrom is applied as 'migrating', so applying it changes nothing for
 *   readers, writers or `materialize` defaults; the switch flips `to` to active and `from` to
 *   deprecated in one transaction, and the serving catalog picks it up at its next refresh.
 * - No row is lost or counted twice at the switch: ingestion into `from` also writes each batch
 *   through the transform into every later version migrating from it (dual-write, looked up
 *   after the `from` commit, so any commit either precedes the migration's start, where the
 *   backfill sees it, or is dual-written). Both paths derive the copy's batch id from the source
 *   batch id (`from-v<from>-<batch>`) and its object keys from the source object, and commits
 *   are idempotent on (view, version, batch id): whichever comes second finds the copy there.
 *   The backfill runs until it has caught up with the latest `from` commit, so no cut-off seq is
 *   needed; verify checks every `from` commit up to where the backfill ended has its copy.
 * - Casts are exact (12.0 -> 12; 12.5 as int64 stops the migration, naming object, row and
 *   value); rounding is a transform's job. A failure is recorded ('failed'); `from` keeps
 *   serving and nothing was switched. Changing the declaration after `to` holds rows is refused:
 *   the fix is a new version.
 * - The grace period (default one day) is a durable timer; if services are still pinned to
 *   `from` when it ends, the old keys stay and the workflow waits another grace period, so a
 *   pinned model never loses its features. Once the keys are removed the migration is
 *   'completed' and `from` takes no more writes (push to `to`).
 * - Rollback (`granary migrate <view> --rollback`, a signal here) is honoured between steps and
 *   during the grace period: services return to `from` (active again, `to` back to migrating,
 *   its data kept) and the workflow ends 'rolled-back'. Started again, it resumes from what
 *   exists (idempotent steps).
 * - Pushes without a version go to the current version: producers still writing `from`'s
 *   schema pin `version: from` during the migration; their rows keep reaching `to`.
 */
export async function migrateViewWorkflow(input: MigrateViewInput): Promise<MigrationResult> {
  const ref = { project: input.project, view: input.view, from: input.from, to: input.to };
  const graceSeconds = Math.max(1, input.graceSeconds ?? DEFAULT_GRACE_SECONDS);
  let progress: MigrationProgress = startingMigrationProgress(input, Date.now());
  let rollback: { reason?: string } | undefined;
  setHandler(migrationProgressQuery, () => progress);
  setHandler(rollbackMigrationSignal, (reason?: string) => {
    rollback ??= reason ? { reason } : {};
  });
  const rolledBack = async (): Promise<MigrationResult> => {
    await rollBackMigration({ ...ref, ...(rollback?.reason ? { reason: rollback.reason } : {}) });
    progress = { ...progress, state: 'rolled-back', ...(rollback?.reason ? { message: rollback.reason } : {}) };
    return progress;
  };

  try {
    const start = await beginMigration({ ...ref, workflowId: workflowInfo().workflowId });
    if (start.state === 'completed') {
      progress = { ...progress, state: 'completed', message: 'this migration had completed before' };
      return progress;
    }
    progress = { ...progress, sourceCommits: start.sourceCommits };
    if (start.state !== 'switched') {
      progress = { ...progress, state: 'backfilling' };
      for (;;) {
        if (rollback) return await rolledBack();
        const page = await backfillMigration({ ...ref, after: progress.backfilledUpTo, limit: input.commitsPerActivity ?? DEFAULT_COMMITS_PER_ACTIVITY });
        const commitsDone = progress.commitsDone + page.commits;
        progress = {
          ...progress,
          commitsDone,
          commitsRewritten: progress.commitsRewritten + page.rewritten,
          rowsRewritten: progress.rowsRewritten + page.rows,
          backfilledUpTo: page.lastSeq,
          sourceCommits: Math.max(progress.sourceCommits, commitsDone),
        };
        if (page.caughtUp) break;
      }

      if (start.toOnline) {
        if (rollback) return await rolledBack();
        progress = { ...progress, state: 'materializing' };
        const toRef = { project: input.project, view: input.view, version: input.to };
        const seq = await latestCommitSeq(toRef);
        if (seq > 0) {
          const online = await materializeUpTo(toRef, seq);
          if (!online.materialized) {
            throw ApplicationFailure.nonRetryable(`materialization of feature view '${input.view}' version ${input.to} failed: ${online.reason}`, failureTypes.migrationFailed);
          }
        }
      }

      if (rollback) return await rolledBack();
      progress = { ...progress, state: 'verifying' };
      const verify = await verifyMigration({ ...ref, upTo: progress.backfilledUpTo });
      progress = { ...progress, verify };

      if (rollback) return await rolledBack();
      progress = { ...progress, state: 'switching' };
      const switched = await switchServices(ref);
      progress = { ...progress, switchedServices: switched.switched, pinnedServices: switched.pinned };
    }

    progress = { ...progress, state: 'grace', removeOldKeysAt: Date.now() + graceSeconds * 1000 };
    for (;;) {
      if (await condition(() => rollback !== undefined, `${graceSeconds}s`)) return await rolledBack();
      const pinned = await pinnedServices(ref);
      if (pinned.length === 0) break;
      progress = { ...progress, state: 'waiting-for-pinned-services', pinnedServices: pinned, removeOldKeysAt: Date.now() + graceSeconds * 1000 };
    }
    progress = { ...progress, state: 'removing-old-keys' };
    await removeOldOnlineKeys(ref);
    progress = { ...progress, state: 'completed' };
    return progress;
  } catch (error) {
    if (isCancellation(error)) throw error;
    const message = failureMessage(error);
    progress = { ...progress, state: 'failed', message };
    await failMigration({ ...ref, message });
    throw ApplicationFailure.nonRetryable(message, failureTypes.migrationFailed);
  }
}
