import { objectKey } from '../stores/offline/object-key.ts';
import { eventTimeRange, splitByEventDate } from '../stores/offline/row-conversion.ts';
import type { CommitObject } from '../stores/registry/registry.ts';
import type { IngestInput } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';
import { withHeartbeat } from './heartbeat.ts';
import { checkNotRetired } from './migration-context.ts';
import { registeredView } from './registered-view.ts';

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
      const rows = committed.objects.reduce((n, o) => n + o.rowCount, 0);
      return { objects: committed.objects, rows, schemaVersion: committed.schemaVersion, online: view.online };
    }
    const objects: CommitObject[] = [];
    let rows = 0;
    await withHeartbeat(
      async () => {
        for await (const { rowGroup, table } of deps.offline.readTable(input.stagingKey)) {
          for (const [eventDate, part] of splitByEventDate(view, table)) {
            const key = objectKey({ ...input, eventDate, batchId: input.batchId, part: rowGroup });
            const info = await deps.offline.writeTable(key, part);
            const range = eventTimeRange(view, part);
            objects.push({
              key,
              rowCount: info.rowCount,
              bytes: info.bytes,
              checksum: info.checksum,
              minEventTime: new Date(range.min),
              maxEventTime: new Date(range.max),
            });
            rows += info.rowCount;
          }
        }
      },
      () => ({ objects: objects.length }),
    );
    failpoint('after-offline-write');
    return { objects, rows, schemaVersion, online: view.online };
  };
}
