import type { FieldChange, ObjectChange } from './plan.ts';
import type { ObjectKind } from '../spec.ts';
import type { ServiceEffect, ServiceEffectDetail } from './service-effects.ts';
import type { SpecDifference } from './spec-diff.ts';

/**
 * Classifies the differences of one object's spec as additive or breaking, with a reason that
 * says what to do for each breaking one.
 *
 * Breaking (apply refuses it: rows already stored would not fit): a feature removed, renamed,
 * retyped or made non-nullable; a new non-nullable feature; the view's entities or join keys (or
 * their types) changed; its event or created timestamp column changed; an entity's join key or
 * value type, or a source's timestamp columns, changed while registered views use it. Everything
 * else is additive for the stored data (descriptions, owners, tags, TTL, the online flag, a new
 * nullable feature, a service's feature list or its defaults, a source's path); of those,
 * `classifyForConsumers` (below) marks the ones that break consumers of a feature service.
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

/**
 * Marks what breaks the consumers of a feature service, from the plan's service effects
 * (service-effects.ts): apply accepts these (no stored row becomes invalid), but the models
 * reading the service see other columns, other values or an error. On a service: its feature
 * list when its columns change, a default removed or changed. On a view: a new feature or a new
 * order when a service lists the whole view, `online` turned off while a service reads it. On
 * the object: a served service removed, a view version that services start reading. A change
 * already breaking (apply refuses it) is not marked again.
 *
 * @example
 *   classifyForConsumers({ kind: 'featureService', name: 'fraud_model', version: 1, action: 'update',
 *     fields: [{ path: 'defaults', before: { 'v:f': '0' }, after: undefined, breaking: false }], breaking: false }, effects)
 *   // => { ..., breaksConsumers: true, fields: [{ path: 'defaults', ..., breaking: false, breaksConsumers: true,
 *   //      reason: "default of 'v:f' removed: NOT_FOUND and OUTSIDE_MAX_AGE values served as null instead of \"0\"" }] }
 */
export function classifyForConsumers(change: ObjectChange, effects: readonly ServiceEffect[]): ObjectChange {
  const details = (match: (d: ServiceEffectDetail, e: ServiceEffect) => boolean): { service: string; detail: ServiceEffectDetail }[] =>
    effects.flatMap((e) => e.details.filter((d) => d.breaking && match(d, e)).map((detail) => ({ service: e.service, detail })));
  const services = (found: readonly { service: string }[]): string =>
    `feature service${found.length > 1 ? 's' : ''} ${[...new Set(found.map((f) => `'${f.service}'`))].join(', ')}`;
  const ofThisView = (d: ServiceEffectDetail): boolean => d.view === change.name && d.version === change.version;

  const fields = change.fields.map((field): FieldChange => {
    if (field.breaking) return field;
    const [head, key] = splitPath(field.path);
    let found: { service: string; detail: ServiceEffectDetail }[] = [];
    let reason = '';
    if (change.kind === 'featureService' && head === 'items') {
      found = details((d, e) => e.service === change.name && COLUMN_KINDS.has(d.kind));
      reason = `changes the columns models read from ${services(found)}: ${found.map((f) => f.detail.text).join('; ')}`;
    } else if (change.kind === 'featureService' && head === 'defaults') {
      found = details((d, e) => e.service === change.name && DEFAULT_KINDS.has(d.kind) && (key === undefined || d.ref === key));
      reason = found.map((f) => f.detail.text).join('; ');
    } else if (change.kind === 'featureView' && head === 'features' && key !== undefined && field.before === undefined) {
      found = details((d) => d.kind === 'column-added' && ofThisView(d) && d.ref === `${change.name}:${key}`);
      reason = `adds a column to ${services(found)}, which list${found.length > 1 ? '' : 's'} the whole view; to keep a service as it is, list its features explicitly`;
    } else if (change.kind === 'featureView' && head === 'features' && key === undefined) {
      found = details((d) => d.kind === 'columns-reordered' && ofThisView(d));
      reason = `reorders the columns of ${services(found)}, which list the whole view`;
    } else if (change.kind === 'featureView' && head === 'online') {
      found = details((d) => d.kind === 'unservable' && ofThisView(d));
      reason = `${services(found)} can no longer be served`;
    }
    if (found.length === 0) return field;
    // A note already there (a rename hint) stays, except the order note this reason replaces.
    const note = field.reason && field.path !== 'features' ? `${field.reason}; ` : '';
    return { ...field, breaksConsumers: true, reason: note + reason };
  });

  const objectBreaks =
    (change.kind === 'featureService' && change.action === 'remove' && effects.some((e) => e.service === change.name && e.action === 'removed')) ||
    (change.kind === 'featureView' && details((d) => d.kind === 'version-changed' && ofThisView(d)).length > 0) ||
    fields.some((f) => f.breaksConsumers);
  return objectBreaks ? { ...change, fields, breaksConsumers: true } : { ...change, fields };
}

const COLUMN_KINDS = new Set<ServiceEffectDetail['kind']>(['column-added', 'column-removed', 'columns-reordered', 'version-changed', 'type-changed', 'unservable']);
const DEFAULT_KINDS = new Set<ServiceEffectDetail['kind']>(['default-removed', 'default-changed']);

/** 'defaults.view:feature' -> ['defaults', 'view:feature']; 'features.x' -> ['features', 'x']. */
function splitPath(path: string): [string, string | undefined] {
  const dot = path.indexOf('.');
  return dot < 0 ? [path, undefined] : [path.slice(0, dot), path.slice(dot + 1)];
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
