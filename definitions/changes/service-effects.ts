import type { FeatureServiceSpec, FeatureViewSpec } from '../spec.ts';
import { canonicalJson } from './content-hash.ts';
import { currentVersionFirst } from './current-version.ts';
import type { ObjectStatus } from './current-version.ts';
import type { ObjectKind } from '../spec.ts';

/**
 * What a plan does to each feature service's consumers: the models (and model servers) that read
 * it. A service serves columns (its join keys, then its features in order, each from one view
 * version, with a type and possibly a default for missing or stale values); the plan resolves
 * every served service before and after the apply, the way serving resolves it (an unpinned item
 * means the view's current version, definitions/changes/current-version.ts; a whole-view item means
 * every feature of that version), and compares.
 *
 * Breaking for consumers: the service is removed (requests naming it fail); a column is added,
 * removed or moved (a model reads features by position); a column's type changes or it is read
 * from another view version (a new active version holds no rows online until materialized); a
 * default is removed (NOT_FOUND and OUTSIDE_MAX_AGE values are served as null instead) or changed;
 * the service can no longer be served (a view turned offline). Not breaking: a default added
 * (a null becomes a value; the status still says NOT_FOUND or OUTSIDE_MAX_AGE). A service that
 * was not served before the apply (new, or re-added after its removal) has no consumers yet.
 *
 * @example
 *   // fraud_model lists the whole view user_spend, which gains a feature:
 *   serviceEffects(before, after)
 *   // => [{ service: 'fraud_model', action: 'changed', breaking: true,
 *   //       columnsBefore: ['user_id', 'user_spend:spend', 'user_spend:count'],
 *   //       columnsAfter: ['user_id', 'user_spend:spend', 'user_spend:count', 'user_spend:risk'],
 *   //       details: [{ kind: 'column-added', ref: 'user_spend:risk', view: 'user_spend', breaking: true,
 *   //                   text: "+ column 'user_spend:risk' (float32), 4th of 4" }] }]
 */
export interface ServiceEffect {
  readonly service: string;
  /** 'removed': the service is no longer served; 'changed': it is, differently. */
  readonly action: 'changed' | 'removed';
  /** Breaking for the models reading it (see above). */
  readonly breaking: boolean;
  /** Served columns: join keys, then features as 'view:feature'. */
  readonly columnsBefore: readonly string[];
  /** Empty when removed or no longer servable. */
  readonly columnsAfter: readonly string[];
  readonly details: readonly ServiceEffectDetail[];
}

export interface ServiceEffectDetail {
  readonly kind:
    | 'removed'
    | 'unservable'
    | 'column-added'
    | 'column-removed'
    | 'columns-reordered'
    | 'type-changed'
    | 'version-changed'
    | 'default-added'
    | 'default-removed'
    | 'default-changed';
  /** The column ('view:feature' or a join key) it is about, when it is about one. */
  readonly ref?: string;
  /** The feature view of that column (or, for 'unservable', the view that cannot be served). */
  readonly view?: string;
  /** The version of that view the column is read from after the apply. */
  readonly version?: number;
  readonly breaking: boolean;
  /** One line for the plan, e.g. "default of 'user_spend:count' removed: NOT_FOUND and OUTSIDE_MAX_AGE values served as null instead of 0". */
  readonly text: string;
}

/** An object of the registry as it is, or as it will be after the apply. */
export interface ObjectState {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly version: number;
  readonly spec: unknown;
  readonly status: ObjectStatus;
}

interface Column {
  readonly ref: string;
  readonly view?: string;
  readonly version?: number;
  readonly type: string;
  readonly joinKey: boolean;
  /** canonical JSON of the default, when the service declares one. */
  readonly defaultJson?: string;
  readonly defaultShown?: string;
}

type Served = { readonly columns: readonly Column[] } | { readonly problem: string; readonly view: string; readonly version?: number };

export function serviceEffects(before: readonly ObjectState[], after: readonly ObjectState[]): ServiceEffect[] {
  const beforeState = new ServedState(before);
  const afterState = new ServedState(after);
  const effects: ServiceEffect[] = [];
  for (const name of beforeState.serviceNames()) {
    const was = beforeState.resolve(name);
    // A service that could not be served before has no consumers reading it.
    if ('problem' in was) continue;
    const columnsBefore = was.columns.map((c) => c.ref);
    if (!afterState.hasService(name)) {
      effects.push({
        service: name,
        action: 'removed',
        breaking: true,
        columnsBefore,
        columnsAfter: [],
        details: [{ kind: 'removed', breaking: true, text: 'requests naming it fail (unknown feature service): move the models reading it to another service first' }],
      });
      continue;
    }
    const now = afterState.resolve(name);
    if ('problem' in now) {
      effects.push({
        service: name,
        action: 'changed',
        breaking: true,
        columnsBefore,
        columnsAfter: [],
        details: [{ kind: 'unservable', view: now.view, version: now.version, breaking: true, text: `can no longer be served: ${now.problem}` }],
      });
      continue;
    }
    const details = compareColumns(was.columns, now.columns);
    if (details.length === 0) continue;
    effects.push({
      service: name,
      action: 'changed',
      breaking: details.some((d) => d.breaking),
      columnsBefore,
      columnsAfter: now.columns.map((c) => c.ref),
      details,
    });
  }
  return effects.sort((a, b) => a.service.localeCompare(b.service));
}

/** The live (not removed) views and services of one registry state, resolved as serving does. */
class ServedState {
  private readonly views = new Map<string, { spec: FeatureViewSpec; version: number }[]>();
  private readonly services = new Map<string, FeatureServiceSpec>();

  constructor(objects: readonly ObjectState[]) {
    const live = objects.filter((o) => o.status !== 'removed');
    for (const o of live.filter((o) => o.kind === 'featureView').sort(currentVersionFirst)) {
      const list = this.views.get(o.name) ?? [];
      list.push({ spec: o.spec as FeatureViewSpec, version: o.version });
      this.views.set(o.name, list);
    }
    for (const o of live) if (o.kind === 'featureService') this.services.set(o.name, o.spec as FeatureServiceSpec);
  }

  serviceNames(): string[] {
    return [...this.services.keys()].sort();
  }

  hasService(name: string): boolean {
    return this.services.has(name);
  }

  resolve(name: string): Served {
    const spec = this.services.get(name)!;
    const defaults = spec.defaults ?? {};
    const joinKeys: Column[] = [];
    const features: Column[] = [];
    for (const item of spec.items) {
      const view = this.views.get(item.view)?.find((v) => item.version === null || v.version === item.version);
      if (!view) {
        const which = item.version === null ? `'${item.view}'` : `'${item.view}' version ${item.version}`;
        return { problem: `feature view ${which} is not registered`, view: item.view };
      }
      if (view.spec.online === false) {
        return { problem: `feature view '${item.view}' version ${view.version} is not online`, view: item.view, version: view.version };
      }
      for (const e of view.spec.entities) {
        if (!joinKeys.some((k) => k.ref === e.joinKey)) joinKeys.push({ ref: e.joinKey, type: e.valueType, joinKey: true });
      }
      for (const featureName of item.features ?? view.spec.features.map((f) => f.name)) {
        const feature = view.spec.features.find((f) => f.name === featureName);
        if (!feature) return { problem: `feature view '${item.view}' version ${view.version} has no feature '${featureName}'`, view: item.view };
        const ref = `${item.view}:${featureName}`;
        const value = Object.hasOwn(defaults, ref) ? defaults[ref] : undefined;
        features.push({
          ref,
          view: item.view,
          version: view.version,
          type: feature.type,
          joinKey: false,
          ...(value === undefined ? {} : { defaultJson: canonicalJson(value), defaultShown: shownDefault(value, feature.type) }),
        });
      }
    }
    return { columns: [...joinKeys, ...features] };
  }
}

function compareColumns(before: readonly Column[], after: readonly Column[]): ServiceEffectDetail[] {
  const details: ServiceEffectDetail[] = [];
  const beforeByRef = new Map(before.map((c) => [c.ref, c]));
  const afterByRef = new Map(after.map((c) => [c.ref, c]));
  const label = (c: Column): string => (c.joinKey ? `join key '${c.ref}'` : `column '${c.ref}'`);
  before.forEach((c) => {
    if (!afterByRef.has(c.ref)) details.push({ kind: 'column-removed', ...where(c), breaking: true, text: `- ${label(c)} (${c.type})` });
  });
  after.forEach((c, i) => {
    if (!beforeByRef.has(c.ref)) {
      details.push({ kind: 'column-added', ...where(c), breaking: true, text: `+ ${label(c)} (${c.type}), ${ordinal(i + 1)} of ${after.length}` });
    }
  });
  const keptBefore = before.filter((c) => afterByRef.has(c.ref)).map((c) => c.ref);
  const keptAfter = after.filter((c) => beforeByRef.has(c.ref)).map((c) => c.ref);
  if (keptBefore.join('\u0000') !== keptAfter.join('\u0000')) {
    const moved = keptAfter.filter((ref, i) => keptBefore[i] !== ref);
    const first = moved.map((ref) => afterByRef.get(ref)!).find((c) => c.view !== undefined);
    details.push({
      kind: 'columns-reordered',
      ...(first ? { view: first.view, version: first.version } : {}),
      breaking: true,
      text: `columns reordered: ${moved.map((ref) => `'${ref}'`).join(', ')} move`,
    });
  }
  for (const c of after) {
    const old = beforeByRef.get(c.ref);
    if (!old) continue;
    if (old.type !== c.type) {
      details.push({ kind: 'type-changed', ...where(c), breaking: true, text: `${label(c)} changes type: ${old.type} -> ${c.type}` });
    }
    if (old.version !== undefined && c.version !== undefined && old.version !== c.version) {
      details.push({
        kind: 'version-changed',
        ...where(c),
        breaking: true,
        text: `${label(c)} is read from feature view '${c.view}' version ${c.version} instead of ${old.version}`,
      });
    }
    if (old.defaultJson !== c.defaultJson) details.push(defaultChange(c, old));
  }
  return details;
}

function defaultChange(now: Column, old: Column): ServiceEffectDetail {
  const missing = 'NOT_FOUND and OUTSIDE_MAX_AGE values';
  const base = where(now);
  if (old.defaultJson === undefined) {
    return { ...base, kind: 'default-added', breaking: false, text: `default of '${now.ref}' added: ${missing} served as ${now.defaultShown} instead of null` };
  }
  if (now.defaultJson === undefined) {
    return { ...base, kind: 'default-removed', breaking: true, text: `default of '${now.ref}' removed: ${missing} served as null instead of ${old.defaultShown}` };
  }
  return {
    ...base,
    kind: 'default-changed',
    breaking: true,
    text: `default of '${now.ref}' changes: ${missing} served as ${now.defaultShown} instead of ${old.defaultShown}`,
  };
}

function where(c: Column): Pick<ServiceEffectDetail, 'ref' | 'view' | 'version'> {
  return { ref: c.ref, ...(c.view === undefined ? {} : { view: c.view, version: c.version }) };
}

/** A default as the plan shows it: int64 values (decimal strings in the spec) bare, the rest as JSON. */
function shownDefault(value: unknown, type: string): string {
  if (type === 'int64' && typeof value === 'string') return value;
  if (type === 'list<int64>' && Array.isArray(value)) return `[${value.map((v) => (v === null ? 'null' : String(v))).join(',')}]`;
  return JSON.stringify(value);
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}
