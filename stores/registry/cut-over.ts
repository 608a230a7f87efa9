import type { Generation } from './generations.ts';

/**
 * The cut-over (invariant 6): serving reads the active generation, and the flip from the old one
 * to a rebuilt one is one transaction (activateGenerationTx in cut-over-queries.ts),
 * so a reader sees the old generation or the new one, never neither or both.
 */
export interface CutOver {
  /**
   * The cut-over, in one transaction: the active generation becomes retired and `generation`
   * (building, or already active: a repeat is a no-op) becomes active. Throws when it is
   * retired or dropped.
   */
  activateGeneration(view: string, version: number, generation: number): Promise<Generation>;
}
