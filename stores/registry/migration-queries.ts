import type { Pool } from 'pg';
import type { Queryable } from './object-queries.ts';
import type { ViewMigrationRecord, ViewMigrationState } from './view-migrations.ts';
import type { ObjectStatus } from '../../definitions/changes/current-version.ts';
import { withTransaction } from './with-transaction.ts';

/**
 * View migrations in the registry: one row per (view, from version, to version) with its state,
 * and the status flips that switch unpinned feature services between the two versions. A flip
 * is one transaction, so serving (which resolves an unpinned reference to the highest 'active'
 * version, see current-version.ts) sees the old version or the new one, never neither.
 *
 *   running -> switched -> completed        (the old version's online keys removed)
 *   running | switched -> rolled-back       (services back on the old version)
 *   running -> failed                       (N keeps serving; fix and start again)
 *
 * @example
 *   await switchMigration(pool, 'fraud', 'user_spend', 1, 2) // => { state: 'switched', ... }
 */
interface MigrationRow {
  view: string;
  from_version: number;
  to_version: number;
  state: ViewMigrationState;
  spec_hash: string;
  workflow_id: string;
  message: string | null;
  started_at: Date;
  switched_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

const COLUMNS = 'view, from_version, to_version, state, spec_hash, workflow_id, message, started_at, switched_at, finished_at, updated_at';

function toRecord(row: MigrationRow): ViewMigrationRecord {
  return {
    view: row.view,
    from: row.from_version,
    to: row.to_version,
    state: row.state,
    specHash: row.spec_hash,
    workflowId: row.workflow_id,
    ...(row.message ? { message: row.message } : {}),
    startedAt: row.started_at,
    ...(row.switched_at ? { switchedAt: row.switched_at } : {}),
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
    updatedAt: row.updated_at,
  };
}

export interface BeginMigrationInput {
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly specHash: string;
  readonly workflowId: string;
}

/**
 * Records the migration as running; a failed or rolled-back one runs again, a running, switched
 * or completed one is returned as it is.
 */
export async function beginMigration(db: Queryable, project: string, input: BeginMigrationInput): Promise<ViewMigrationRecord> {
  const { rows } = await db.query<MigrationRow>(
    `INSERT INTO granary_view_migrations AS m (project, view, from_version, to_version, state, spec_hash, workflow_id)
     VALUES ($1, $2, $3, $4, 'running', $5, $6)
     ON CONFLICT (project, view, from_version, to_version) DO UPDATE SET
       state = CASE WHEN m.state IN ('failed', 'rolled-back') THEN 'running' ELSE m.state END,
       message = CASE WHEN m.state IN ('failed', 'rolled-back') THEN NULL ELSE m.message END,
       spec_hash = EXCLUDED.spec_hash,
       workflow_id = EXCLUDED.workflow_id,
       finished_at = CASE WHEN m.state IN ('failed', 'rolled-back') THEN NULL ELSE m.finished_at END,
       updated_at = now()
     RETURNING ${COLUMNS}`,
    [project, input.view, input.from, input.to, input.specHash, input.workflowId],
  );
  return toRecord(rows[0]!);
}

export async function selectMigrations(db: Queryable, project: string, filter: { view?: string; from?: number; to?: number } = {}): Promise<ViewMigrationRecord[]> {
  const where = ['project = $1'];
  const params: unknown[] = [project];
  for (const [column, value] of [['view', filter.view], ['from_version', filter.from], ['to_version', filter.to]] as const) {
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  const { rows } = await db.query<MigrationRow>(
    `SELECT ${COLUMNS} FROM granary_view_migrations WHERE ${where.join(' AND ')} ORDER BY view, from_version, to_version`,
    params,
  );
  return rows.map(toRecord);
}

/** The switch, in one transaction: `to` becomes active (unpinned references resolve to it), `from` deprecated. */
export async function switchMigration(pool: Pool, project: string, view: string, from: number, to: number): Promise<ViewMigrationRecord> {
  return withTransaction(pool, async (client) => {
    const current = await lockMigration(client, project, view, from, to);
    if (current.state === 'switched' || current.state === 'completed') return current;
    if (current.state !== 'running') throw new Error(`migration of feature view '${view}' from version ${from} to ${to} is ${current.state}, not running: it cannot switch`);
    await setStatus(client, project, view, to, 'active');
    await setStatus(client, project, view, from, 'deprecated');
    return updateState(client, project, view, from, to, 'switched', null, 'switched_at = now()');
  });
}

/**
 * The rollback, in one transaction: `from` active again, `to` back to migrating (its data kept),
 * the migration rolled back. Refused when `from` was removed or the migration completed (its
 * online keys are gone).
 */
export async function rollbackMigration(pool: Pool, project: string, view: string, from: number, to: number, message: string | null): Promise<ViewMigrationRecord> {
  return withTransaction(pool, async (client) => {
    const current = await lockMigration(client, project, view, from, to);
    if (current.state === 'rolled-back') return current;
    if (current.state === 'completed') {
      throw new Error(
        `migration of feature view '${view}' from version ${from} to ${to} completed at ${current.finishedAt?.toISOString()}: ` +
          `version ${from}'s online keys were removed after the grace period, so services cannot return to it`,
      );
    }
    const { rows } = await client.query<{ status: ObjectStatus }>(
      `SELECT status FROM granary_objects WHERE project = $1 AND kind = 'featureView' AND name = $2 AND version = $3`,
      [project, view, from],
    );
    if (!rows[0] || rows[0].status === 'removed') {
      throw new Error(`feature view '${view}' version ${from} no longer exists in project '${project}': there is nothing to roll back to`);
    }
    await setStatus(client, project, view, from, 'active');
    await setStatus(client, project, view, to, 'migrating');
    return updateState(client, project, view, from, to, 'rolled-back', message, 'finished_at = now()');
  });
}

/** The end of a migration: completed (after the grace period), or failed with its message. */
export async function finishMigration(
  db: Queryable,
  project: string,
  view: string,
  from: number,
  to: number,
  state: 'completed' | 'failed',
  message: string | null,
): Promise<ViewMigrationRecord> {
  return updateState(db, project, view, from, to, state, message, 'finished_at = now()');
}

async function lockMigration(db: Queryable, project: string, view: string, from: number, to: number): Promise<ViewMigrationRecord> {
  const { rows } = await db.query<MigrationRow>(
    `SELECT ${COLUMNS} FROM granary_view_migrations
      WHERE project = $1 AND view = $2 AND from_version = $3 AND to_version = $4 FOR UPDATE`,
    [project, view, from, to],
  );
  if (!rows[0]) throw new Error(`no migration of feature view '${view}' from version ${from} to ${to} in project '${project}' (start it with granary migrate ${view} --to ${to})`);
  return toRecord(rows[0]);
}

async function setStatus(db: Queryable, project: string, view: string, version: number, status: ObjectStatus): Promise<void> {
  await db.query(
    `UPDATE granary_objects SET status = $4
      WHERE project = $1 AND kind = 'featureView' AND name = $2 AND version = $3 AND status <> 'removed'`,
    [project, view, version, status],
  );
}

async function updateState(
  db: Queryable,
  project: string,
  view: string,
  from: number,
  to: number,
  state: ViewMigrationState,
  message: string | null,
  extra: string,
): Promise<ViewMigrationRecord> {
  const { rows } = await db.query<MigrationRow>(
    `UPDATE granary_view_migrations SET state = $5, message = $6, updated_at = now(), ${extra}
      WHERE project = $1 AND view = $2 AND from_version = $3 AND to_version = $4
     RETURNING ${COLUMNS}`,
    [project, view, from, to, state, message],
  );
  if (!rows[0]) throw new Error(`no migration of feature view '${view}' from version ${from} to ${to} in project '${project}'`);
  return toRecord(rows[0]);
}
