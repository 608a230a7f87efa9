import { objectKey } from '../stores/offline/object-key.ts';
import { rowsOf, writeViewObjects } from '../pipelines/write-view-objects.ts';
import type { CommitObject } from '../stores/registry/commit-log.ts';
import type { IngestInput } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';
import { withHeartbeat } from './heartbeat.ts';
import { checkNotRetired } from './migration-context.ts';
import { registeredView } from '../pipelines/registered-view.ts';

export interface WrittenBatch {
  readonly objects: readonly CommitObject[];
  readonly rows: number;
  readonly schemaVersion: number;
  readonly online: boolean;
}

/**
 * Writes a staged batch as the view's offline objects: one per (row group of the staged file,
 * event date), each at a key derived from (view, version, date, batch id, part), so a retry
 * rewrites the same bytes at the same keys. Nothing is visible until commitBatch. A batch id
 * already committed is not written again.
 */
export function writeBatchObjects(deps: ActivityDeps) {
  return async function writeBatchObjects(input: IngestInput): Promise<WrittenBatch> {
    const registry = deps.registry(input.project);
    const { view, schemaVersion } = await registeredView(registry, input);
    await checkNotRetired(registry, input);
    const committed = await registry.commitFor(input.view, input.version, input.batchId);
    if (committed) {
      return { objects: committed.objects, rows: rowsOf(committed.objects), schemaVersion: committed.schemaVersion, online: view.online };
    }
    const objects: CommitObject[] = [];
    await withHeartbeat(
      async () => {
        for await (const { rowGroup, table } of deps.offline.readTable(input.stagingKey)) {
          objects.push(...(await writeViewObjects(deps.offline, view, table, (eventDate) => objectKey({ ...input, eventDate, batchId: input.batchId, part: rowGroup }))));
        }
      },
      () => ({ objects: objects.length }),
    );
    failpoint('after-offline-write');
    return { objects, rows: rowsOf(objects), schemaVersion, online: view.online };
  };
}
