import { objectLabel } from './object-label.ts';
import type { Plan } from '../../definitions/changes/plan.ts';

/**
 * Apply refused the plan: it holds breaking changes. The message names the first one (object
 * and field) and what to do; `plan` holds them all.
 *
 * @example
 *   new BreakingChangeError(plan).message
 *   // => "breaking change refused: feature view 'user_spend' version 1, field 'features.spend.type': feature 'spend' changes type
 *   //     from float32 to int64; create feature view 'user_spend' version 2 beside version 1"
 */
export class BreakingChangeError extends Error {
  readonly plan: Plan;

  constructor(plan: Plan) {
    const breaking = plan.changes.flatMap((c) => c.fields.filter((f) => f.breaking).map((f) => ({ change: c, field: f })));
    const first = breaking[0];
    const where = first ? `${objectLabel(first.change)}, field '${first.field.path}': ` : '';
    const more = breaking.length > 1 ? ` (and ${breaking.length - 1} more breaking change${breaking.length > 2 ? 's' : ''}; see granary plan)` : '';
    super(`breaking change refused: ${where}${first?.field.reason ?? 'the plan holds breaking changes'}${more}`);
    this.name = 'BreakingChangeError';
    this.plan = plan;
  }
}
