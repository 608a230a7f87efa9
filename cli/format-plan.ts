import { objectLabel } from '../stores/registry/object-label.ts';
import type { FieldChange, ObjectChange, Plan } from '../definitions/changes/plan.ts';
import type { ServiceEffect } from '../definitions/changes/service-effects.ts';
import { formatValue } from './output.ts';

/**
 * A plan as text: a summary line, then each object with its action and its field-level changes
 * (before -> after), each tagged ADDITIVE, BREAKING (apply refuses it: a new view version is
 * needed) or BREAKS CONSUMERS (apply accepts it, but a served feature service changes what it
 * returns), with the reason and what to do under the last two; then the effect on each served
 * feature service whose output changes: removed, or its columns and served values, before -> after.
 *
 * @example
 *   formatPlan(plan)
 *   // => ["project 'fraud': 0 to add, 1 to update, 0 to remove (1 feature service changes what it serves)",
 *   //     '',
 *   //     "~ update feature view 'user_spend' version 1  BREAKS CONSUMERS",
 *   //     '    BREAKS CONSUMERS  features.risk: (none) -> float32',
 *   //     "              adds a column to feature service 'fraud_model', which lists the whole view; ...",
 *   //     '',
 *   //     'Feature services (what the models reading them see):',
 *   //     "! fraud_model: 3 columns -> 4  BREAKS CONSUMERS",
 *   //     "    + column 'user_spend:risk' (float32), 4th of 4"]
 */
const SYMBOLS: Record<ObjectChange['action'], string> = { add: '+', update: '~', remove: '-' };

export function formatPlan(plan: Plan): string[] {
  const count = (action: ObjectChange['action']): number => plan.changes.filter((c) => c.action === action).length;
  const breaking = plan.changes.filter((c) => c.breaking).length;
  const touched = plan.services.filter((s) => s.breaking).length;
  const summary =
    `project '${plan.project}': ${count('add')} to add, ${count('update')} to update, ${count('remove')} to remove` +
    (breaking ? ` (${breaking} with breaking changes)` : '') +
    (touched ? ` (${touched} feature service${touched === 1 ? ' changes what it serves' : 's change what they serve'})` : '');
  const lines = [summary, ''];
  for (const change of plan.changes) {
    const tag = change.breaking ? '  BREAKING' : change.breaksConsumers ? '  BREAKS CONSUMERS' : '';
    lines.push(`${SYMBOLS[change.action]} ${change.action} ${objectLabel(change)}${tag}`);
    for (const field of change.fields) lines.push(...formatField(field));
  }
  if (plan.services.length > 0) {
    lines.push('', 'Feature services (what the models reading them see):');
    for (const effect of plan.services) lines.push(...formatEffect(effect));
  }
  return lines;
}

function formatField(field: FieldChange): string[] {
  const tag = field.breaking ? 'BREAKING' : field.breaksConsumers ? 'BREAKS CONSUMERS' : 'ADDITIVE';
  const lines = [`    ${tag}  ${field.path}: ${formatSpecValue(field.before)} -> ${formatSpecValue(field.after)}`];
  if (field.reason) lines.push(`              ${field.reason}`);
  return lines;
}

function formatEffect(effect: ServiceEffect): string[] {
  const tag = effect.breaking ? '  BREAKS CONSUMERS' : '';
  const columns = (n: number): string => `${n} column${n === 1 ? '' : 's'}`;
  const head =
    effect.action === 'removed'
      ? `! ${effect.service}: removed (served ${columns(effect.columnsBefore.length)})${tag}`
      : effect.columnsAfter.length === 0
        ? `! ${effect.service}: ${columns(effect.columnsBefore.length)} -> none${tag}`
        : `${effect.breaking ? '!' : '~'} ${effect.service}: ${columns(effect.columnsBefore.length)} -> ${effect.columnsAfter.length}${tag}`;
  const lines = [head, ...effect.details.map((d) => `    ${d.text}`)];
  if (effect.columnsAfter.length > 0 && effect.details.some((d) => d.kind.startsWith('column'))) {
    lines.push(`    columns now: ${effect.columnsAfter.join(', ')}`);
  }
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
