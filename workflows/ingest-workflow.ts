import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import type { IngestInput, IngestResult, MigratedCopy } from './contracts.ts';
import { failureMessage } from './failure-type.ts';
import { materializeUpTo, type MaterializedUpTo } from './materialize-up-to.ts';

const { writeBatchObjects, migrateCommit } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);
const { commitBatch, migrationTargets } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);

/**
 * Offline first: write the batch's objects at deterministic keys, commit them (which makes them
 * visible), then hand the commit to materialization and wait until it is online. A failure at
 * any point leaves either nothing visible, or a commit that materialization will apply.
 *
 * During a migration (migrate-view-workflow.ts) the commit is also rewritten into each later
 * version that migrates from this one (dual-write), looked up after the commit so the
 * migration's backfill and this copy never both miss it; the copy's batch id is derived from
 * this one, so they never both count it either.
 */
export async function ingestWorkflow(input: IngestInput): Promise<IngestResult> {
  const written = await writeBatchObjects(input);
  const commit = await commitBatch({ ...input, schemaVersion: written.schemaVersion, objects: written.objects });
  const targets = await migrationTargets(input);
  const [online, migrated] = await Promise.all([
    written.online ? materializeUpTo(input, commit.seq) : Promise.resolve<MaterializedUpTo>({ materialized: false, reason: 'view is offline-only' }),
    Promise.all(targets.map((to) => dualWrite(input, to, commit.seq))),
  ]);
  return {
    seq: commit.seq,
    rows: written.rows,
    objects: written.objects.map((o) => o.key),
    created: commit.created,
    materialized: online.materialized,
    ...(online.reason ? { reason: online.reason } : {}),
    ...(migrated.length ? { migrated } : {}),
  };
}

async function dualWrite(input: IngestInput, to: number, seq: number): Promise<MigratedCopy> {
  try {
    const copy = await migrateCommit({ project: input.project, view: input.view, from: input.version, to, seq });
    const online = copy.online ? await materializeUpTo({ project: input.project, view: input.view, version: to }, copy.seq) : { materialized: false };
    return { version: to, seq: copy.seq, materialized: online.materialized };
  } catch (error) {
    return { version: to, materialized: false, error: failureMessage(error) };
  }
}
