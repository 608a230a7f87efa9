import { DefinitionError } from './definition-error.ts';
import { defaultShapeProblem, type DefaultValue } from './feature-defaults.ts';
import type { FeatureView } from './feature-view.ts';
import { checkServiceMonitoring, type ServiceMonitoring, type ServiceMonitoringOptions } from './monitoring-objectives.ts';
import { checkKnownKeys, checkName, checkObject, checkOptionalString, checkTags, show } from './field-checks.ts';

/**
 * A feature service: the ordered list of features one model consumes. Its order is the order the
 * model sees, at training and at serving time. Items are a whole view (all its features, in
 * schema order), a `'view:feature'` string, or `{ view, features: [...] }`. A view reference may
 * pin a version with `view@2`; without a pin it means the view's version in the same repo (the
 * highest one when several are defined).
 *
 * Online serving is fail-closed by default: a missing (NOT_FOUND) or stale (OUTSIDE_MAX_AGE)
 * value is served as null. `defaults`, keyed `'view:feature'`, serves a value of the feature's
 * type in its place instead; the status stays NOT_FOUND or OUTSIDE_MAX_AGE, so the caller can
 * still tell. A stored null (NULL_VALUE) is a real value and is served as null.
 *
 * @example
 *   const fraud = featureService({
 *     name: 'fraud_model_v1',
 *     features: ['user_spend_features:spend_7d_avg', userSpend],
 *     defaults: { 'user_spend_features:txn_count_7d': 0n },
 *   });
 */
export type FeatureReference = FeatureView | string | { view: FeatureView | string; features: string[] };

/** One reference as written, before resolution against the repo's views. */
export interface FeatureServiceItem {
  readonly view: string;
  /** The pinned view version, or null for the repo's (highest) version of that view. */
  readonly version: number | null;
  /** The features in order, or null for all features of the view in schema order. */
  readonly features: readonly string[] | null;
}

export interface FeatureService {
  readonly kind: 'featureService';
  readonly name: string;
  readonly items: readonly FeatureServiceItem[];
  readonly owner: string;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Values served online for a missing or stale value, keyed `'view:feature'` (features of this
   * service); empty when fail-closed. Their types are checked when the repo is built.
   */
  readonly defaults: Readonly<Record<string, DefaultValue>>;
  /** Monitoring objectives (the p99 latency); absent when not declared: the default applies. */
  readonly monitoring?: ServiceMonitoring;
}

export interface FeatureServiceOptions {
  name: string;
  features: FeatureReference[];
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
  /** Served online in place of a missing or stale value, per `'view:feature'`; none by default (fail-closed). */
  defaults?: Record<string, DefaultValue>;
  /** Monitoring objectives: `{ latencyP99Ms }` (default 10 ms). */
  monitoring?: ServiceMonitoringOptions;
}

const FIELDS = ['name', 'features', 'owner', 'description', 'tags', 'monitoring', 'defaults'];

export function featureService(options: FeatureServiceOptions): FeatureService {
  const raw = checkObject({ kind: 'feature service' }, options);
  const name = checkName({ kind: 'feature service' }, raw.name);
  const where = { kind: 'feature service', name };
  checkKnownKeys(where, raw, FIELDS);
  if (!Array.isArray(raw.features) || raw.features.length === 0) {
    throw new DefinitionError({ ...where, field: 'features' }, 'must list at least one feature or feature view');
  }
  const items = raw.features.map((ref, i) => parseReference({ ...where, field: `features[${i}]` }, ref));
  const monitoring = checkServiceMonitoring(where, raw.monitoring);
  return Object.freeze({
    kind: 'featureService',
    name,
    items: Object.freeze(items),
    owner: checkOptionalString({ ...where, field: 'owner' }, raw.owner),
    description: checkOptionalString({ ...where, field: 'description' }, raw.description),
    tags: checkTags({ ...where, field: 'tags' }, raw.tags),
    defaults: checkDefaults({ ...where, field: 'defaults' }, raw.defaults),
    ...(monitoring ? { monitoring } : {}),
  });
}

/** The shape of `defaults`: `'view:feature'` keys, values JSON can carry; types are checked against the views later. */
function checkDefaults(at: { kind: string; name: string; field: string }, value: unknown): Readonly<Record<string, DefaultValue>> {
  if (value === undefined || value === null) return Object.freeze({});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new DefinitionError(at, `must be an object of default values keyed 'view:feature', got ${show(value)}`);
  }
  const out: Record<string, DefaultValue> = {};
  for (const key of Object.keys(value).sort()) {
    const parsed = parseFeatureRef(key);
    if (!parsed || parsed.feature === null || parsed.version !== null) {
      throw new DefinitionError(at, `key '${key}' is not of the form 'view:feature' (without a version)`);
    }
    const item = (value as Record<string, unknown>)[key];
    const problem = defaultShapeProblem(item);
    if (problem) throw new DefinitionError(at, `'${key}': ${problem}`);
    out[key] = Array.isArray(item) ? Object.freeze([...(item as DefaultValue[])]) as DefaultValue : (item as DefaultValue);
  }
  return Object.freeze(out);
}

/** Parses `view`, `view@2`, `view:feature` or `view@2:feature`. */
export function parseFeatureRef(text: string): { view: string; version: number | null; feature: string | null } | undefined {
  const match = /^([A-Za-z_]\w*)(?:@(\d+))?(?::([A-Za-z_]\w*))?$/.exec(text);
  if (!match) return undefined;
  return { view: match[1]!, version: match[2] ? Number(match[2]) : null, feature: match[3] ?? null };
}

function parseReference(at: { kind: string; name: string; field: string }, ref: unknown): FeatureServiceItem {
  if (typeof ref === 'string') {
    const parsed = parseFeatureRef(ref);
    if (!parsed) throw new DefinitionError(at, `'${ref}' is not of the form 'view:feature' (or 'view@version:feature')`);
    return Object.freeze({
      view: parsed.view,
      version: parsed.version,
      features: parsed.feature ? Object.freeze([parsed.feature]) : null,
    });
  }
  if (isView(ref)) return Object.freeze({ view: ref.name, version: ref.version, features: null });
  const obj = checkObject(at, ref);
  const view = obj.view;
  const viewName = isView(view) ? view.name : typeof view === 'string' ? view : undefined;
  const parsed = viewName === undefined ? undefined : parseFeatureRef(viewName);
  if (!parsed || parsed.feature) {
    throw new DefinitionError(at, `'view' must be a feature view or its name, got ${show(view)}`);
  }
  if (!Array.isArray(obj.features) || obj.features.length === 0 || obj.features.some((f) => typeof f !== 'string')) {
    throw new DefinitionError(at, `'features' must be a non-empty list of feature names, got ${show(obj.features)}`);
  }
  return Object.freeze({
    view: parsed.view,
    version: isView(view) ? view.version : parsed.version,
    features: Object.freeze([...(obj.features as string[])]),
  });
}

function isView(value: unknown): value is FeatureView {
  return typeof value === 'object' && value !== null && (value as FeatureView).kind === 'featureView';
}
