import type { Queryable } from './object-queries.ts';
import { toGeneration, type GenerationRow } from './registry-rows.ts';
import type { Generation } from './generations.ts';

/** The columns of a generation row (toGeneration); the cut-over reads the same. */
export const GENERATION_COLUMNS = 'view, version, generation, state, created_at, activated_at, retired_at';

/**
 * The active generation; when the view version has none, makes the next one (1 for a new view)
 * active. Concurrent callers agree: the unique index (one active generation per view version)
 * lets one insert win, the rest read it. The other generations: at most one building, then
 * retired and dropped (below; the cut-over between them is cut-over-queries.ts).
 *
 * @example
 *   (await selectActiveGeneration(pool, 'fraud', 'user_spend', 1)).generation // => 1 for a new view
 */
export function selectActiveGeneration(db: Queryable, project: string, view: string, version: number): Promise<Generation> {
  return settleGeneration(db, project, view, version, 'active');
}

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

/**
 * The generation in state 'building', or a new one numbered after every other. Concurrent
 * callers agree: a unique index allows one building generation per view version.
 */
export async function selectBuildingGeneration(db: Queryable, project: string, view: string, version: number): Promise<Generation> {
  // The active generation exists first, so a rebuild of a view never materialized numbers after it.
  await selectActiveGeneration(db, project, view, version);
  return settleGeneration(db, project, view, version, 'building');
}

/**
 * The view version's one generation in `state` ('active' or 'building': a unique index allows one
 * of each), made as the next number after every other when there is none. Concurrent callers
 * agree: one insert wins, the rest read it.
 */
async function settleGeneration(db: Queryable, project: string, view: string, version: number, state: 'active' | 'building'): Promise<Generation> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { rows } = await db.query<GenerationRow>(
      `SELECT ${GENERATION_COLUMNS} FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3 AND state = $4`,
      [project, view, version, state],
    );
    if (rows[0]) return toGeneration(rows[0]);
    await db.query(
      `INSERT INTO granary_generations (project, view, version, generation, state, activated_at)
       SELECT $1, $2, $3, COALESCE(max(generation), 0) + 1, $4, CASE WHEN $4 = 'active' THEN now() END FROM granary_generations
        WHERE project = $1 AND view = $2 AND version = $3
       ON CONFLICT DO NOTHING`,
      [project, view, version, state],
    );
  }
  throw new Error(`could not settle the ${state} generation of '${view}' version ${version} in project '${project}'`);
}

export async function markDropped(db: Queryable, project: string, view: string, version: number, generation: number): Promise<void> {
  const { rowCount } = await db.query(
    `UPDATE granary_generations SET state = 'dropped'
      WHERE project = $1 AND view = $2 AND version = $3 AND generation = $4 AND state IN ('retired', 'dropped')`,
    [project, view, version, generation],
  );
  if (rowCount === 0) throw new Error(`generation ${generation} of feature view '${view}' version ${version} is not retired: it cannot be dropped`);
}
