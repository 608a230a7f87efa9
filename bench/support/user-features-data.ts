import { buildFeatureRepo, entity, featureView, parquetSource } from '../../definitions/index.ts';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { eventDateOf, objectKey } from '../../stores/offline/object-key.ts';
import type { OfflineStore } from '../../stores/offline/offline-store.ts';
import type { Registry } from '../../stores/registry/registry.ts';
import type { CommitObject } from '../../stores/registry/commit-log.ts';

/**
 * The benchmarks' feature view: `user_features`, 10 features (6 float64, 2 int64, a string, a
 * bool) of an int64 `user_id`, TTL 7 days; and its offline data, written as ingestion leaves it
 * (one Parquet object per batch) and committed straight into the registry.
 */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
export const userFeatures = featureView({
  name: 'user_features',
  entities: [user],
  source: parquetSource({ name: 'user_source', path: 'data/user_features' }),
  schema: [
    ...Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
    { name: 'count_7d', type: 'int64' as const },
    { name: 'count_30d', type: 'int64' as const },
    { name: 'country', type: 'string' as const },
    { name: 'active', type: 'bool' as const },
  ],
  ttl: '7d',
});
export const userFeaturesRepo = buildFeatureRepo('.', [{ definition: userFeatures }]);

/** `rows` offline rows over `entities` users (row i is user i % entities), in `batches` objects. */
export interface UserFeaturesLayout {
  readonly rows: number;
  readonly entities: number;
  readonly batches: number;
}

const rowsPerBatch = (layout: UserFeaturesLayout): number => Math.ceil(layout.rows / layout.batches);

/** Batch b: every entity once (while rows allow), event times rising with b, so each batch replaces the last. */
export function userFeatureRows(layout: UserFeaturesLayout, b: number, baseTime: number): Record<string, unknown>[] {
  const { rows: totalRows, entities } = layout;
  const start = b * rowsPerBatch(layout);
  const end = Math.min(start + rowsPerBatch(layout), totalRows);
  const rows = new Array<Record<string, unknown>>(end - start);
  for (let i = start; i < end; i++) {
    const userId = i % entities;
    rows[i - start] = {
      user_id: BigInt(userId),
      event_timestamp: new Date(baseTime + Math.floor(i / entities) * 1000),
      f0: i * 0.5, f1: i / 3, f2: userId * 1.25, f3: Math.sqrt(i), f4: (i % 977) / 7, f5: -i * 0.001,
      count_7d: BigInt(i % 1000), count_30d: BigInt(i % 5000),
      country: ['FR', 'DE', 'US', 'BR', 'JP'][i % 5]!,
      active: i % 2 === 0,
    };
  }
  return rows;
}

/**
 * Writes the layout's objects (one per batch, batch id `b<i>`) under `project`'s keys, without
 * committing them. Event times start at `baseTime`.
 */
export async function writeUserFeatureObjects(
  offline: OfflineStore,
  project: string,
  layout: UserFeaturesLayout,
  baseTime: number,
): Promise<CommitObject[]> {
  const { rows: totalRows, entities, batches } = layout;
  const perBatch = rowsPerBatch(layout);
  const objects: CommitObject[] = [];
  for (let b = 0; b < batches; b++) {
    const table = toViewTable(userFeatures, userFeatureRows(layout, b, baseTime));
    const key = objectKey({ project, view: userFeatures.name, version: 1, eventDate: eventDateOf(baseTime), batchId: `b${b}` });
    const info = await offline.writeTable(key, table);
    const eventTime = new Date(baseTime + Math.floor((b * perBatch) / entities) * 1000);
    const lastEventTime = new Date(baseTime + Math.floor((Math.min((b + 1) * perBatch, totalRows) - 1) / entities) * 1000);
    objects.push({ ...info, minEventTime: eventTime, maxEventTime: lastEventTime });
  }
  return objects;
}

/** Applies the repo in the registry's project and commits the objects there, one commit each (batch `b<i>`). Returns the commit seqs. */
export async function commitUserFeatureObjects(registry: Registry, objects: readonly CommitObject[], firstBatch = 0): Promise<number[]> {
  await registry.apply(userFeaturesRepo);
  const seqs: number[] = [];
  for (const [b, object] of objects.entries()) {
    seqs.push((await registry.commit({ view: userFeatures.name, version: 1, batchId: `b${firstBatch + b}`, schemaVersion: 1, objects: [object] })).commit.seq);
  }
  return seqs;
}
