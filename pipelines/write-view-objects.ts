import type { Table } from 'apache-arrow';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { CommitObject } from '../stores/registry/commit-log.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { eventTimeRange, splitByEventDate } from './row-conversion.ts';

/**
 * Writes a table of a view's rows as immutable objects, one per event date, each at the key
 * `keyOf(eventDate)` gives (deterministic, so a retry rewrites the same bytes at the same keys),
 * and returns what their commit records: key, rows, bytes, checksum and event-time range.
 * Nothing is visible until the commit.
 *
 * @example
 *   const objects = await writeViewObjects(offline, view, table, (eventDate) => objectKey({ ...ref, eventDate, batchId, part: 0 }));
 */
export async function writeViewObjects(offline: OfflineStore, view: FeatureView, table: Table, keyOf: (eventDate: string) => string): Promise<CommitObject[]> {
  const objects: CommitObject[] = [];
  for (const [eventDate, part] of splitByEventDate(view, table)) {
    const key = keyOf(eventDate);
    const info = await offline.writeTable(key, part);
    const range = eventTimeRange(view, part);
    objects.push({ key, rowCount: info.rowCount, bytes: info.bytes, checksum: info.checksum, minEventTime: new Date(range.min), maxEventTime: new Date(range.max) });
  }
  return objects;
}

/** The rows of a commit's objects. */
export function rowsOf(objects: readonly CommitObject[]): number {
  return objects.reduce((n, o) => n + o.rowCount, 0);
}
