import type { Queryable } from './object-queries.ts';

/**
 * Materialization watermarks: per view version and generation, the last commit seq whose rows
 * are in Redis. Watermarks only move forward (`GREATEST` in the upsert), whatever the
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
