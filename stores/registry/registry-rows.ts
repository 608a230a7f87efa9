import type { KindSpec } from '../../definitions/spec.ts';
import type { Generation } from './generations.ts';
import type { Commit, CommitObject } from './commit-log.ts';
import type { RegisteredObject } from './definition-registry.ts';
import type { ObjectStatus } from '../../definitions/changes/current-version.ts';
import type { ObjectKind } from '../../definitions/spec.ts';

/**
 * The registry's rows as PostgreSQL returns them (bigint as text, jsonb parsed, timestamptz as
 * Date), and their conversion to the contract's named objects.
 */
export interface ObjectRow {
  kind: ObjectKind;
  name: string;
  version: number;
  schema_version: number;
  spec: KindSpec[ObjectKind];
  content_hash: string;
  status: ObjectStatus;
  applied_at: Date;
}

export interface CommitRow {
  seq: string;
  view: string;
  version: number;
  batch_id: string;
  schema_version: number;
  committed_at: Date;
  /** Aggregated with json_agg: timestamps arrive as ISO strings, bigints as numbers. */
  objects: CommitObjectJson[] | null;
}

export interface CommitObjectJson {
  key: string;
  row_count: number;
  min_event_time: string;
  max_event_time: string;
  checksum: string;
  bytes: number;
}

export interface GenerationRow {
  view: string;
  version: number;
  generation: number;
  state: Generation['state'];
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  watermark?: string | null;
  watermark_updated_at?: Date | null;
}

export const OBJECT_COLUMNS = 'kind, name, version, schema_version, spec, content_hash, status, applied_at';

export function toRegisteredObject<K extends ObjectKind = ObjectKind>(row: ObjectRow): RegisteredObject<K> {
  return {
    kind: row.kind as K,
    name: row.name,
    version: row.version,
    schemaVersion: row.schema_version,
    spec: row.spec as KindSpec[K],
    contentHash: row.content_hash,
    status: row.status,
    appliedAt: row.applied_at,
  };
}

/** Selects commits with their objects in order; append WHERE/ORDER BY/LIMIT. */
export const COMMIT_SELECT = `
  SELECT c.seq, c.view, c.version, c.batch_id, c.schema_version, c.committed_at,
         (SELECT json_agg(json_build_object(
                    'key', o.key, 'row_count', o.row_count, 'min_event_time', o.min_event_time,
                    'max_event_time', o.max_event_time, 'checksum', o.checksum, 'bytes', o.bytes)
                  ORDER BY o.ordinal)
            FROM granary_commit_objects o WHERE o.seq = c.seq) AS objects
    FROM granary_commits c`;

export function toCommit(row: CommitRow): Commit {
  return {
    seq: Number(row.seq),
    view: row.view,
    version: row.version,
    batchId: row.batch_id,
    schemaVersion: row.schema_version,
    committedAt: row.committed_at,
    objects: (row.objects ?? []).map(
      (o): CommitObject => ({
        key: o.key,
        rowCount: Number(o.row_count),
        minEventTime: new Date(o.min_event_time),
        maxEventTime: new Date(o.max_event_time),
        checksum: o.checksum,
        bytes: Number(o.bytes),
      }),
    ),
  };
}

export function toGeneration(row: GenerationRow): Generation {
  return {
    view: row.view,
    version: row.version,
    generation: row.generation,
    state: row.state,
    createdAt: row.created_at,
    activatedAt: row.activated_at ?? undefined,
    retiredAt: row.retired_at ?? undefined,
    ...(row.watermark === undefined ? {} : { watermark: Number(row.watermark ?? 0) }),
    ...(row.watermark_updated_at ? { watermarkUpdatedAt: row.watermark_updated_at } : {}),
  };
}
