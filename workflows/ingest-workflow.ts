import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import type { IngestInput, IngestResult } from './contracts.ts';
import { materializeUpTo } from './materialize-up-to.ts';

const { writeBatchObjects } = proxyActivities<ReturnType<typeof activities.createActivities>>(longActivity);
const { commitBatch } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);

/**
 * Offline first: write the batch's objects at deterministic keys, commit them (which makes them
 * visible), then hand the commit to materialization and wait until it is online. A failure at
 * any point leaves either nothing visible, or a commit that materialization will apply.
 */
export async function ingestWorkflow(input: IngestInput): Promise<IngestResult> {
  const written = await writeBatchObjects(input);
  const commit = await commitBatch({ ...input, schemaVersion: written.schemaVersion, objects: written.objects });
  const online = written.online ? await materializeUpTo(input, commit.seq) : { materialized: false, reason: 'view is offline-only' };
  return {
    seq: commit.seq,
    rows: written.rows,
    objects: written.objects.map((o) => o.key),
    created: commit.created,
    materialized: online.materialized,
    ...(online.reason ? { reason: online.reason } : {}),
  };
}
