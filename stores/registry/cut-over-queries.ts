import type { Pool } from 'pg';
import { GENERATION_COLUMNS } from './generation-queries.ts';
import { toGeneration, type GenerationRow } from './registry-rows.ts';
import type { Generation } from './generations.ts';
import { withTransaction } from './with-transaction.ts';

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
