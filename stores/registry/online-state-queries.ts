import type { Pool } from 'pg';
import type { Queryable } from './object-queries.ts';
import { withTransaction } from './with-transaction.ts';
import { toGeneration, type GenerationRow } from './registry-rows.ts';
import type { Generation } from './generations.ts';

/**
 * What the online store holds, per view version: its generations (one active at a time,
 * enforced by a partial unique index) and, per generation, the watermark: the last commit seq
 * whose rows are in Redis. Watermarks only move forward (`GREATEST` in the upsert), whatever the
 * order concurrent or retried advances arrive in.
 *
 * @example
 *   await advanceWatermarkTo(pool, 'fraud', 'user_spend', 1, 1, 7) // => 7
 *   await advanceWatermarkTo(pool, 'fraud', 'user_spend', 1, 1, 5) // => 7 (never backwards)
 */
export async function selectWatermark(db: Queryable, project: string, view: string, version: number, generation: number): Promise<number> {
  const { rows } = await db.query<{ seq: string }>(
    'SELECT seq FROM granary_watermarks WHERE project = $1 AND view = $2 AND version = $3 AND generation = $4',
    [project, view, version, generation],
  );
  return Number(rows[0]?.seq ?? 0);
}

export async function advanceWatermarkTo(
  db: Queryable,
  project: string,
  view: string,
  version: number,
  generation: number,
  seq: number,
): Promise<number> {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`watermark seq must be a whole number >= 0, got ${seq}`);
  const { rows } = await db.query<{ seq: string }>(
    `INSERT INTO granary_watermarks AS w (project, view, version, generation, seq) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (project, view, version, generation) DO UPDATE
       SET seq = GREATEST(w.seq, EXCLUDED.seq),
           updated_at = CASE WHEN EXCLUDED.seq > w.seq THEN now() ELSE w.updated_at END
     RETURNING seq`,
    [project, view, version, generation, seq],
  );
  return Number(rows[0]!.seq);
}

/**
 * The active generation; when the view version has none, makes the next one (1 for a new view)
 * active. Concurrent callers agree: the unique index lets one insert win, the rest read it.
 */
export async function selectActiveGeneration(db: Queryable, project: string, view: string, version: number): Promise<Generation> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { rows } = await db.query<GenerationRow>(
      `SELECT ${GENERATION_COLUMNS} FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3 AND state = 'active'`,
      [project, view, version],
    );
    if (rows[0]) return toGeneration(rows[0]);
    await db.query(
      `INSERT INTO granary_generations (project, view, version, generation, state, activated_at)
       SELECT $1, $2, $3, COALESCE(max(generation), 0) + 1, 'active', now() FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3
       ON CONFLICT DO NOTHING`,
      [project, view, version],
    );
  }
  throw new Error(`could not settle the active generation of '${view}' version ${version} in project '${project}'`);
}

const GENERATION_COLUMNS = 'view, version, generation, state, created_at, activated_at, retired_at';

export async function selectGenerations(db: Queryable, project: string, view: string, version: number): Promise<Generation[]> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT g.view, g.version, g.generation, g.state, g.created_at, g.activated_at, g.retired_at,
            w.seq AS watermark, w.updated_at AS watermark_updated_at
       FROM granary_generations g
       LEFT JOIN granary_watermarks w USING (project, view, version, generation)
      WHERE g.project = $1 AND g.view = $2 AND g.version = $3 ORDER BY g.generation DESC`,
    [project, view, version],
  );
  return rows.map(toGeneration);
}

/** The greatest event time of the commits up to `upTo` (what the online store's newest row can be). */
export async function selectNewestEventTime(db: Queryable, project: string, view: string, version: number, upTo: number): Promise<Date | undefined> {
  const { rows } = await db.query<{ newest: Date | null }>(
    `SELECT max(o.max_event_time) AS newest FROM granary_commits c JOIN granary_commit_objects o ON o.seq = c.seq
      WHERE c.project = $1 AND c.view = $2 AND c.version = $3 AND c.seq <= $4`,
    [project, view, version, upTo],
  );
  return rows[0]?.newest ?? undefined;
}

/**
 * The generation in state 'building', or a new one numbered after every other. Concurrent
 * callers agree: a unique index allows one building generation per view version.
 */
export async function selectBuildingGeneration(db: Queryable, project: string, view: string, version: number): Promise<Generation> {
  // The active generation exists first, so a rebuild of a view never materialized numbers after it.
  await selectActiveGeneration(db, project, view, version);
  for (let attempt = 0; attempt < 5; attempt++) {
    const { rows } = await db.query<GenerationRow>(
      `SELECT ${GENERATION_COLUMNS} FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3 AND state = 'building'`,
      [project, view, version],
    );
    if (rows[0]) return toGeneration(rows[0]);
    await db.query(
      `INSERT INTO granary_generations (project, view, version, generation, state)
       SELECT $1, $2, $3, COALESCE(max(generation), 0) + 1, 'building' FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3
       ON CONFLICT DO NOTHING`,
      [project, view, version],
    );
  }
  throw new Error(`could not settle the building generation of '${view}' version ${version} in project '${project}'`);
}

/**
 * The atomic cut-over: in one transaction (rows locked), the active generation is retired and
 * `generation` becomes active. Readers see either the old active generation or the new one.
 */
export async function activateGenerationTx(pool: Pool, project: string, view: string, version: number, generation: number): Promise<Generation> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<GenerationRow>(
      `SELECT ${GENERATION_COLUMNS} FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3 AND state IN ('active', 'building') FOR UPDATE`,
      [project, view, version],
    );
    const target = rows.find((r) => r.generation === generation);
    if (!target) {
      throw new Error(`generation ${generation} of feature view '${view}' version ${version} is neither building nor active: it cannot become active`);
    }
    if (target.state === 'active') return toGeneration(target);
    await client.query(
      `UPDATE granary_generations SET state = 'retired', retired_at = now()
        WHERE project = $1 AND view = $2 AND version = $3 AND state = 'active'`,
      [project, view, version],
    );
    const updated = await client.query<GenerationRow>(
      `UPDATE granary_generations SET state = 'active', activated_at = now()
        WHERE project = $1 AND view = $2 AND version = $3 AND generation = $4
       RETURNING ${GENERATION_COLUMNS}`,
      [project, view, version, generation],
    );
    return toGeneration(updated.rows[0]!);
  });
}

export async function markDropped(db: Queryable, project: string, view: string, version: number, generation: number): Promise<void> {
  const { rowCount } = await db.query(
    `UPDATE granary_generations SET state = 'dropped'
      WHERE project = $1 AND view = $2 AND version = $3 AND generation = $4 AND state IN ('retired', 'dropped')`,
    [project, view, version, generation],
  );
  if (rowCount === 0) throw new Error(`generation ${generation} of feature view '${view}' version ${version} is not retired: it cannot be dropped`);
}
