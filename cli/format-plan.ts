import { objectLabel } from '../stores/registry/object-label.ts';
import type { FieldChange, ObjectChange, Plan } from '../stores/registry/registry.ts';
import { formatValue } from './output.ts';

/**
 * A plan as text: a summary line, then each object with its action and its field-level changes
 * (before -> after), tagged ADDITIVE or BREAKING, with the reason and what to do under breaking
 * ones.
 *
 * @example
 *   formatPlan(plan)
 *   // => ["project 'fraud': 0 to add, 1 to update, 0 to remove",
 *   //     '',
 *   //     "~ update feature view 'user_spend' version 1",
 *   //     '    BREAKING  features.spend.type: float32 -> int64',
 *   //     "              feature 'spend' changes type from float32 to int64; create feature view 'user_spend' version 2 beside version 1"]
 */
const SYMBOLS: Record<ObjectChange['action'], string> = { add: '+', update: '~', remove: '-' };

export function formatPlan(plan: Plan): string[] {
  const count = (action: ObjectChange['action']): number => plan.changes.filter((c) => c.action === action).length;
  const breaking = plan.changes.filter((c) => c.breaking).length;
  const summary =
    `project '${plan.project}': ${count('add')} to add, ${count('update')} to update, ${count('remove')} to remove` +
    (breaking ? ` (${breaking} with breaking changes)` : '');
  const lines = [summary, ''];
  for (const change of plan.changes) {
    lines.push(`${SYMBOLS[change.action]} ${change.action} ${objectLabel(change)}${change.breaking ? '  BREAKING' : ''}`);
    for (const field of change.fields) lines.push(...formatField(field));
  }
  return lines;
}

function formatField(field: FieldChange): string[] {
  const tag = field.breaking ? 'BREAKING' : 'ADDITIVE';
  const lines = [`    ${tag}  ${field.path}: ${formatSpecValue(field.before)} -> ${formatSpecValue(field.after)}`];
  if (field.reason) lines.push(`              ${field.reason}`);
  return lines;
}

/** Features as their type, entities as `join_key: type`, the rest as short JSON. */
function formatSpecValue(value: unknown): string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v.type === 'string') return `${v.type}${v.nullable === false ? ' not null' : ''}`;
    if (typeof v.joinKey === 'string' && typeof v.valueType === 'string') return `${v.joinKey}: ${v.valueType}`;
  }
  return formatValue(value);
}
