import type { Queryable } from './object-queries.ts';
import type { OfflineHome } from './project-home.ts';

/**
 * Where each project's offline data lives (`granary_project_homes`, one row per project): the
 * offline store's URL, and for S3 its endpoint and bucket, never credentials. The first row
 * recorded for a project stays: a later record of another home is not written, and the caller
 * compares what it gets back with what it is configured with (stores/offline-home.ts).
 *
 * @example
 *   await insertProjectHome(pool, 'fraud', { kind: 's3', url: 's3://granary/offline', s3Endpoint: 'http://127.0.0.1:19000', s3Bucket: 'granary' })
 *   // => { home: { kind: 's3', url: 's3://granary/offline', ... }, recorded: true }   (false, and the first home, after)
 */
interface ProjectHomeRow {
  kind: 'local' | 's3';
  offline_url: string;
  s3_endpoint: string | null;
  s3_bucket: string | null;
  recorded_at: Date;
}

const HOME_COLUMNS = 'kind, offline_url, s3_endpoint, s3_bucket, recorded_at';

/** The project's home; undefined when none is recorded (also in a registry whose schema predates homes). */
export async function selectProjectHome(db: Queryable, project: string): Promise<OfflineHome | undefined> {
  try {
    const { rows } = await db.query<ProjectHomeRow>(`SELECT ${HOME_COLUMNS} FROM granary_project_homes WHERE project = $1`, [project]);
    return rows[0] && toOfflineHome(rows[0]);
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return undefined; // undefined_table: not migrated yet
    throw error;
  }
}

/** Records the home unless one is; returns the project's home and whether this call recorded it. */
export async function insertProjectHome(db: Queryable, project: string, home: OfflineHome): Promise<{ home: OfflineHome; recorded: boolean }> {
  const { rows } = await db.query<ProjectHomeRow>(
    `INSERT INTO granary_project_homes (project, kind, offline_url, s3_endpoint, s3_bucket) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (project) DO NOTHING RETURNING ${HOME_COLUMNS}`,
    [project, home.kind, home.url, home.s3Endpoint, home.s3Bucket],
  );
  if (rows[0]) return { home: toOfflineHome(rows[0]), recorded: true };
  const existing = await selectProjectHome(db, project);
  if (!existing) throw new Error(`the offline home of project '${project}' was neither recorded nor found`);
  return { home: existing, recorded: false };
}

function toOfflineHome(row: ProjectHomeRow): OfflineHome {
  return { kind: row.kind, url: row.offline_url, s3Endpoint: row.s3_endpoint, s3Bucket: row.s3_bucket, recordedAt: row.recorded_at };
}
