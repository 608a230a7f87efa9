import type { Queryable } from './object-queries.ts';
import type { NewViewSnapshot, ViewSnapshot } from './view-snapshots.ts';

interface SnapshotRow {
  view: string;
  version: number;
  seq: string;
  partitions: number;
  runs: number[];
  max_future_skew_ms: string;
  rows_committed: string;
  entities: string;
  prefix: string;
  created_at: Date;
}

const SNAPSHOT_SELECT = `SELECT view, version, seq, partitions, runs, max_future_skew_ms, rows_committed, entities, prefix, created_at
  FROM granary_view_snapshots`;

function toSnapshot(row: SnapshotRow): ViewSnapshot {
  return {
    view: row.view,
    version: row.version,
    seq: Number(row.seq),
    partitions: row.partitions,
    runs: row.runs,
    maxFutureSkewMs: Number(row.max_future_skew_ms),
    rowsCommitted: Number(row.rows_committed),
    entities: Number(row.entities),
    prefix: row.prefix,
    createdAt: row.created_at,
  };
}

/** Inserts a snapshot once (a retry gets the first one back). */
export async function insertSnapshot(db: Queryable, project: string, s: NewViewSnapshot): Promise<ViewSnapshot> {
  if (s.runs.length !== s.partitions) throw new Error(`snapshot of '${s.view}' v${s.version} at seq ${s.seq}: ${s.runs.length} run counts for ${s.partitions} partitions`);
  await db.query(
    `INSERT INTO granary_view_snapshots (project, view, version, seq, partitions, runs, max_future_skew_ms, rows_committed, entities, prefix)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (project, view, version, seq, partitions) DO NOTHING`,
    [project, s.view, s.version, s.seq, s.partitions, s.runs, s.maxFutureSkewMs, s.rowsCommitted, s.entities, s.prefix],
  );
  const { rows } = await db.query<SnapshotRow>(`${SNAPSHOT_SELECT} WHERE project = $1 AND view = $2 AND version = $3 AND seq = $4 AND partitions = $5`, [
    project,
    s.view,
    s.version,
    s.seq,
    s.partitions,
  ]);
  return toSnapshot(rows[0]!);
}

export async function selectLatestSnapshot(
  db: Queryable,
  project: string,
  view: string,
  version: number,
  options: { upTo?: number; partitions?: number; maxFutureSkewMs: number },
): Promise<ViewSnapshot | undefined> {
  const params: unknown[] = [project, view, version, options.maxFutureSkewMs];
  let sql = `${SNAPSHOT_SELECT} WHERE project = $1 AND view = $2 AND version = $3 AND max_future_skew_ms = $4 AND invalidated_at IS NULL`;
  if (options.upTo !== undefined) {
    params.push(options.upTo);
    sql += ` AND seq <= $${params.length}`;
  }
  if (options.partitions !== undefined) {
    params.push(options.partitions);
    sql += ` AND partitions = $${params.length}`;
  }
  const { rows } = await db.query<SnapshotRow>(`${sql} ORDER BY seq DESC, created_at DESC LIMIT 1`, params);
  return rows[0] ? toSnapshot(rows[0]) : undefined;
}

export async function selectSnapshots(db: Queryable, project: string, invalidatedSince?: Date): Promise<ViewSnapshot[]> {
  const { rows } = await db.query<SnapshotRow>(
    `${SNAPSHOT_SELECT} WHERE project = $1 AND (invalidated_at IS NULL OR invalidated_at > $2) ORDER BY view, version, seq, partitions`,
    [project, invalidatedSince ?? new Date(8.64e15)],
  );
  return rows.map(toSnapshot);
}

export async function markSnapshotsInvalid(
  db: Queryable,
  project: string,
  view: string,
  version: number,
  because: string,
  range: { fromSeq?: number; beforeSeq?: number; partitions?: number } = {},
): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE granary_view_snapshots SET invalidated_at = now(), invalidated_because = $6
     WHERE project = $1 AND view = $2 AND version = $3 AND seq >= $4 AND seq < $5 AND ($7::integer IS NULL OR partitions = $7)
       AND invalidated_at IS NULL`,
    [project, view, version, range.fromSeq ?? 0, range.beforeSeq ?? Number.MAX_SAFE_INTEGER, because, range.partitions ?? null],
  );
  return rowCount ?? 0;
}
