import { defaultFromJson } from '../definitions/feature-defaults.ts';
import { parseFeatureRef } from '../definitions/feature-service.ts';
import type { Feature, FeatureView } from '../definitions/feature-view.ts';
import type { FeatureServiceSpec, FeatureViewSpec } from '../definitions/spec.ts';
import type { JoinKeyType } from '../definitions/value-type.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';
import { currentVersionFirst } from '../definitions/changes/current-version.ts';
import type { RegisteredObject } from '../stores/registry/definition-registry.ts';
import { ServingError, quoted } from './serving-error.ts';

/**
 * What the read path knows of the definitions: the feature views and feature services applied
 * in the registry (not removed), and how a request resolves against them into a FeaturePlan:
 * which views to read, which of their features, in which output order, with which join keys.
 * Plans are cached per request shape, so resolving is a map lookup on the hot path.
 *
 * A view reference without a version (`'view:feature'`, or a service item without a pin) means
 * the view's current version (the highest 'active' one: a version being migrated to becomes
 * current when its migration switches, see definitions/changes/current-version.ts), as for the rest
 * of Granary.
 *
 * @example
 *   const catalog = new ServingCatalog(await registry.listObjects());
 *   const plan = catalog.plan({ featureService: 'fraud_model_v1' });
 *   plan.features.map((f) => f.ref) // => ['user_spend_features:spend_7d_avg', 'user_spend_features:txn_count_7d']
 *   plan.joinKeys // => [{ name: 'user_id', type: 'string' }]
 */
export interface PlanRequest {
  readonly features?: readonly string[];
  readonly featureService?: string;
  readonly fullFeatureNames?: boolean;
}

export interface PlannedView {
  readonly view: FeatureView;
  /** The view's features this plan reads, each once. */
  readonly featureNames: readonly string[];
  /** For each of the view's join keys, its index in the plan's joinKeys. */
  readonly keyIndexes: readonly number[];
}

export interface PlannedFeature {
  /** Index in the plan's views. */
  readonly viewIndex: number;
  readonly feature: Feature;
  /** `view:feature`. */
  readonly ref: string;
  /** The output name: `feature`, or `view__feature` with fullFeatureNames. */
  readonly name: string;
  /**
   * Served in place of a missing (NOT_FOUND) or stale (OUTSIDE_MAX_AGE) value: the feature
   * service's default for this feature, or null (fail-closed) when it declares none or the
   * request lists features rather than naming a service.
   */
  readonly defaultValue: FeatureValue | null;
}

export interface FeaturePlan {
  /** The feature service's name, when the request named one. */
  readonly service: string | null;
  readonly views: readonly PlannedView[];
  readonly features: readonly PlannedFeature[];
  /** Every join key the views need, in the order the views need them. */
  readonly joinKeys: readonly { readonly name: string; readonly type: JoinKeyType }[];
}

/** Plans cached per request shape; beyond this many, the cache starts over (bounds memory). */
const MAX_CACHED_PLANS = 1000;

export class ServingCatalog {
  /** Views by name, the current version first (current-version.ts), then the highest. */
  private readonly viewsByName = new Map<string, FeatureView[]>();
  private readonly services = new Map<string, FeatureServiceSpec>();
  private readonly plans = new Map<string, FeaturePlan>();

  constructor(objects: readonly RegisteredObject[]) {
    const live = objects.filter((o) => o.status !== 'removed');
    // Sorted once, current version first (current-version.ts): each name's list keeps that order.
    for (const object of live.filter((o) => o.kind === 'featureView').sort(currentVersionFirst)) {
      const view = featureViewFromSpec(object.spec as FeatureViewSpec);
      const list = this.viewsByName.get(view.name) ?? [];
      list.push(view);
      this.viewsByName.set(view.name, list);
    }
    for (const object of live) {
      if (object.kind !== 'featureService') continue;
      const spec = object.spec as FeatureServiceSpec;
      this.services.set(spec.name, spec);
    }
  }

  /** Every registered view version that is materialized online. */
  onlineViews(): FeatureView[] {
    return [...this.viewsByName.values()].flat().filter((v) => v.online);
  }

  hasService(name: string): boolean {
    return this.services.has(name);
  }

  /** The plan of a request; throws a ServingError (4xx) naming what is unknown or ambiguous. */
  plan(request: PlanRequest): FeaturePlan {
    const full = request.fullFeatureNames === true;
    const key =
      request.featureService !== undefined
        ? `s${full ? 1 : 0}${request.featureService}`
        : `f${full ? 1 : 0}${(request.features ?? []).join('\n')}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = request.featureService !== undefined ? this.planService(request.featureService, full) : this.planFeatures(request.features ?? [], full);
      if (this.plans.size >= MAX_CACHED_PLANS) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  private planService(name: string, full: boolean): FeaturePlan {
    const spec = this.services.get(name);
    if (!spec) {
      const known = [...this.services.keys()].sort().join(', ') || 'none';
      throw new ServingError('UNKNOWN_FEATURE_SERVICE', `unknown feature service ${quoted(name)} (registered: ${known})`);
    }
    const picks: { view: FeatureView; feature: string }[] = [];
    spec.items.forEach((item, i) => {
      const view = this.findView(item.view, item.version, `feature service '${name}', features[${i}]: `);
      for (const feature of item.features ?? view.features.map((f) => f.name)) picks.push({ view, feature });
    });
    return buildPlan(name, picks, full, spec.defaults ?? {});
  }

  private planFeatures(refs: readonly string[], full: boolean): FeaturePlan {
    if (refs.length === 0) throw new ServingError('INVALID_REQUEST', "'features' must list at least one 'view:feature'");
    const picks = refs.map((ref, i) => {
      const parsed = typeof ref === 'string' ? parseFeatureRef(ref) : undefined;
      if (!parsed || parsed.feature === null) {
        throw new ServingError('INVALID_REQUEST', `features[${i}]: ${typeof ref === 'string' ? quoted(ref) : JSON.stringify(ref)} is not of the form 'view:feature' (or 'view@version:feature')`);
      }
      return { view: this.findView(parsed.view, parsed.version, `features[${i}] ${quoted(ref)}: `), feature: parsed.feature };
    });
    return buildPlan(null, picks, full, {});
  }

  private findView(name: string, version: number | null, where: string): FeatureView {
    const versions = this.viewsByName.get(name);
    const view = versions?.find((v) => version === null || v.version === version);
    if (!view) {
      const known = [...this.viewsByName.keys()].sort().join(', ') || 'none';
      const which = version === null || !versions ? quoted(name) : `${quoted(name)} version ${version} (registered versions: ${versions.map((v) => v.version).join(', ')})`;
      throw new ServingError('UNKNOWN_FEATURE_VIEW', `${where}unknown feature view ${which} (registered views: ${known})`);
    }
    if (!view.online) {
      throw new ServingError('NOT_ONLINE', `${where}feature view '${name}' version ${view.version} is not materialized online (online: false)`);
    }
    return view;
  }
}

function buildPlan(
  service: string | null,
  picks: readonly { view: FeatureView; feature: string }[],
  full: boolean,
  defaults: Readonly<Record<string, unknown>>,
): FeaturePlan {
  const views: { view: FeatureView; featureNames: string[] }[] = [];
  const viewIndex = new Map<FeatureView, number>();
  const features: PlannedFeature[] = [];
  const refs = new Set<string>();
  const names = new Map<string, string>();
  for (const { view, feature: featureName } of picks) {
    const feature = view.features.find((f) => f.name === featureName);
    if (!feature) {
      throw new ServingError(
        'UNKNOWN_FEATURE',
        `feature view '${view.name}' version ${view.version} has no feature ${quoted(featureName)} (it has: ${view.features.map((f) => f.name).join(', ')})`,
      );
    }
    const ref = `${view.name}:${featureName}`;
    if (refs.has(ref)) throw new ServingError('INVALID_REQUEST', `${quoted(ref)} is requested twice`);
    refs.add(ref);
    const name = full ? `${view.name}__${featureName}` : featureName;
    const clash = names.get(name);
    if (clash) {
      throw new ServingError('AMBIGUOUS_FEATURE_NAME', `features '${clash}' and '${ref}' are both named '${name}': ask for full feature names (view__feature)`);
    }
    names.set(name, ref);
    let index = viewIndex.get(view);
    if (index === undefined) {
      index = views.length;
      viewIndex.set(view, index);
      views.push({ view, featureNames: [] });
    }
    views[index]!.featureNames.push(featureName);
    features.push(Object.freeze({ viewIndex: index, feature, ref, name, defaultValue: defaultOf(service, ref, feature, defaults) }));
  }

  const joinKeys: { name: string; type: JoinKeyType }[] = [];
  const planned = views.map(({ view, featureNames }): PlannedView => {
    const keyIndexes = view.entities.map((entity) => {
      let k = joinKeys.findIndex((j) => j.name === entity.joinKey);
      if (k < 0) {
        k = joinKeys.length;
        joinKeys.push({ name: entity.joinKey, type: entity.valueType });
      } else if (joinKeys[k]!.type !== entity.valueType) {
        throw new ServingError(
          'INVALID_REQUEST',
          `join key '${entity.joinKey}' is ${joinKeys[k]!.type} in one requested view and ${entity.valueType} in feature view '${view.name}': read them separately`,
        );
      }
      return k;
    });
    return Object.freeze({ view, featureNames: Object.freeze(featureNames), keyIndexes: Object.freeze(keyIndexes) });
  });
  for (const key of joinKeys) {
    const clash = names.get(key.name);
    if (clash) throw new ServingError('AMBIGUOUS_FEATURE_NAME', `feature '${clash}' is named like the join key '${key.name}': ask for full feature names`);
  }
  return Object.freeze({ service, views: Object.freeze(planned), features: Object.freeze(features), joinKeys: Object.freeze(joinKeys) });
}

/**
 * A service's registered default for a feature, as served. Apply only registers defaults that fit
 * their feature's type; one that does not (a registry edited by hand) refuses the service's
 * requests, naming it, rather than serving a value of the wrong type or silently null.
 */
function defaultOf(service: string | null, ref: string, feature: Feature, defaults: Readonly<Record<string, unknown>>): FeatureValue | null {
  if (!Object.hasOwn(defaults, ref)) return null;
  const value = defaultFromJson(defaults[ref], feature.type);
  if (value === undefined) {
    throw new ServingError(
      'INVALID_FEATURE_SERVICE',
      `feature service '${service ?? ''}': the registered default of '${ref}' (${JSON.stringify(defaults[ref])}) does not fit its type ${feature.type}; fix it and run granary apply`,
    );
  }
  return value;
}

/** What changes when any definition changes: compared to decide whether to rebuild the catalog. */
export function catalogFingerprint(objects: readonly RegisteredObject[]): string {
  return objects.map((o) => `${o.kind}/${o.name}/${o.version}/${o.schemaVersion}/${o.status}/${o.contentHash}`).join('\n');
}
