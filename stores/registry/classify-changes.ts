import type { FieldChange, ObjectKind } from './registry.ts';
import type { SpecDifference } from './spec-diff.ts';

/**
 * Classifies the differences of one object's spec as additive or breaking, with a reason that
 * says what to do for each breaking one.
 *
 * Breaking: a feature removed, renamed, retyped or made non-nullable; a new non-nullable feature;
 * the view's entities or join keys (or their types) changed; its event or created timestamp
 * column changed; an entity's join key or value type, or a source's timestamp columns, changed
 * while registered views use it. Everything else is additive (descriptions, owners, tags, TTL,
 * the online flag, a new nullable feature, a service's feature list or its defaults, a source's
 * path).
 *
 * @example
 *   classifyChanges([{ path: 'features.spend.type', before: 'float32', after: 'int64' }], viewContext)
 *   // => [{ path: 'features.spend.type', ..., breaking: true,
 *   //       reason: "feature 'spend' changes type from float32 to int64; create feature view 'user_spend' version 2 beside version 1" }]
 */
export interface ViewUse {
  readonly name: string;
  readonly version: number;
  /** The first version number of that view name not yet registered or defined. */
  readonly nextVersion: number;
}

export interface ChangeContext {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly version: number;
  /** For a view: the first version number of its name not yet registered or defined. */
  readonly nextVersion: number;
  /** For an entity or a source: the registered views, still in the repo, that use it. */
  readonly usedBy: readonly ViewUse[];
}

export function classifyChanges(differences: readonly SpecDifference[], context: ChangeContext): FieldChange[] {
  switch (context.kind) {
    case 'featureView':
      return classifyViewChanges(differences, context);
    case 'entity':
      return differences.map((d) =>
        ['joinKey', 'valueType'].includes(d.path) ? breakingIfUsed(d, context, 'entity', 'define a new entity') : additive(d),
      );
    case 'source':
      return differences.map((d) =>
        ['eventTimestampColumn', 'createdTimestampColumn'].includes(d.path)
          ? breakingIfUsed(d, context, 'source', 'define a new source')
          : additive(d),
      );
    case 'featureService':
      return differences.map((d) => additive(d));
  }
}

function classifyViewChanges(differences: readonly SpecDifference[], context: ChangeContext): FieldChange[] {
  const todo = `create feature view '${context.name}' version ${context.nextVersion} beside version ${context.version}`;
  const breaking = (d: SpecDifference, why: string): FieldChange => ({ ...d, breaking: true, reason: `${why}; ${todo}` });
  const added = differences.filter((d) => isFeature(d.path) && d.before === undefined);
  const removed = differences.filter((d) => isFeature(d.path) && d.after === undefined);
  const sameType = (a: unknown, b: unknown): boolean => typeOf(a) === typeOf(b);

  return differences.map((d): FieldChange => {
    const [head, feature, field] = d.path.split('.');
    if (head === 'features' && feature !== undefined && field === undefined) {
      if (d.after === undefined) {
        const renamedTo = added.filter((a) => sameType(a.after, d.before)).map((a) => `'${featureName(a.path)}'`);
        const hint = renamedTo.length ? ` (renamed to ${renamedTo.join(' or ')}?)` : '';
        return breaking(d, `feature '${feature}' is removed${hint}`);
      }
      if (d.before === undefined) {
        const renamedFrom = removed.filter((r) => sameType(r.before, d.after)).map((r) => `'${featureName(r.path)}'`);
        const hint = renamedFrom.length ? `renamed from ${renamedFrom.join(' or ')}?` : undefined;
        if (isNullable(d.after)) return hint ? { ...d, breaking: false, reason: hint } : additive(d);
        return breaking(d, `new feature '${feature}' is not nullable, so rows already written have no valid value${hint ? ` (${hint})` : ''}`);
      }
    }
    if (head === 'features' && field === 'type') {
      return breaking(d, `feature '${feature}' changes type from ${String(d.before)} to ${String(d.after)}`);
    }
    if (head === 'features' && field === 'nullable' && d.after === false) {
      return breaking(d, `feature '${feature}' becomes non-nullable, and rows already written may hold nulls`);
    }
    if (head === 'features' && feature === undefined) {
      return { ...d, breaking: false, reason: 'feature order changes: services that list the whole view see the new order' };
    }
    if (head === 'entities') return breaking(d, 'the entities (join keys) of the view change, so rows already written no longer match');
    if (head === 'eventTimestampColumn' || head === 'createdTimestampColumn') {
      return breaking(d, `the ${head === 'eventTimestampColumn' ? 'event' : 'created'} timestamp column changes from '${String(d.before)}' to '${String(d.after)}'`);
    }
    return additive(d);
  });
}

function breakingIfUsed(d: SpecDifference, context: ChangeContext, label: string, define: string): FieldChange {
  if (context.usedBy.length === 0) return additive(d);
  const users = context.usedBy.map((v) => `feature view '${v.name}' version ${v.version}`).join(', ');
  const todo = context.usedBy
    .map((v) => `create feature view '${v.name}' version ${v.nextVersion} beside version ${v.version}`)
    .join(', and ');
  return {
    ...d,
    breaking: true,
    reason: `${d.path} of ${label} '${context.name}' changes from '${String(d.before)}' to '${String(d.after)}' while ${users} uses it; ${define} and ${todo} using it`,
  };
}

function additive(d: SpecDifference): FieldChange {
  return { ...d, breaking: false };
}

function isFeature(path: string): boolean {
  return /^features\.[^.]+$/.test(path);
}

function featureName(path: string): string {
  return path.slice('features.'.length);
}

function typeOf(feature: unknown): unknown {
  return (feature as { type?: unknown } | undefined)?.type;
}

function isNullable(feature: unknown): boolean {
  return (feature as { nullable?: unknown } | undefined)?.nullable !== false;
}
