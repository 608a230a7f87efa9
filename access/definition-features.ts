import { currentVersionFirst } from '../definitions/changes/current-version.ts';
import { parseFeatureRef } from '../definitions/feature-service.ts';
import type { FeatureServiceSpec, FeatureViewSpec } from '../definitions/spec.ts';
import type { RegisteredObject } from '../stores/registry/definition-registry.ts';
import type { GrantKind } from '../stores/registry/access-registry.ts';
import type { RequestedFeature, ServiceRefs } from './access-policy.ts';

/**
 * The features of a project's registered definitions as access control sees them, for the
 * paths that do not go through the serving catalog (the `access grant` check, `granary
 * historical`): which `view:feature` refs a service, a view or a feature names, and which are
 * restricted. A feature is restricted when any registered version of its view marks it `pii` or
 * is `sensitivity: 'restricted'` (the cautious reading: a version cannot make it public again).
 *
 * @example
 *   const features = new DefinitionFeatures(await registry.listObjects());
 *   features.targetRefs('service', 'fraud_model_v1') // => ['user_spend_features:spend_7d_avg', ...]
 *   features.requested({ featureService: 'fraud_model_v1' }) // => [{ ref: 'user_spend_features:spend_7d_avg', restricted: false }, ...]
 */
export class DefinitionFeatures {
  /** Live views by name, current version first. */
  private readonly views = new Map<string, FeatureViewSpec[]>();
  private readonly services = new Map<string, FeatureServiceSpec>();
  private readonly restricted = new Set<string>();

  constructor(objects: readonly RegisteredObject[]) {
    const live = objects.filter((o) => o.status !== 'removed');
    for (const object of live.filter((o) => o.kind === 'featureView').sort(currentVersionFirst)) {
      const spec = object.spec as FeatureViewSpec;
      this.views.set(spec.name, [...(this.views.get(spec.name) ?? []), spec]);
      for (const f of spec.features) if (f.pii || spec.sensitivity === 'restricted') this.restricted.add(`${spec.name}:${f.name}`);
    }
    for (const object of live) if (object.kind === 'featureService') this.services.set(object.name, object.spec as FeatureServiceSpec);
  }

  hasService(name: string): boolean {
    return this.services.has(name);
  }

  hasView(name: string): boolean {
    return this.views.has(name);
  }

  isRestricted(ref: string): boolean {
    return this.restricted.has(ref);
  }

  /** The refs a service lists, in its order (undefined for an unknown service). */
  readonly serviceRefs: ServiceRefs = (name) => {
    const spec = this.services.get(name);
    if (!spec) return undefined;
    return spec.items.flatMap((item) => this.viewRefs(item.view, item.version, item.features));
  };

  /** The refs a grant target covers now; throws naming what is unknown. */
  targetRefs(kind: GrantKind, name: string, feature: string | null = null): string[] {
    if (kind === 'service') return [...(this.serviceRefs(name) ?? [])];
    const versions = this.views.get(name) ?? [];
    const all = [...new Set(versions.flatMap((v) => v.features.map((f) => f.name)))];
    if (kind === 'view') return all.map((f) => `${name}:${f}`);
    if (!feature || !all.includes(feature)) throw new Error(`feature view '${name}' has no feature '${feature ?? ''}' (it has: ${all.join(', ')})`);
    return [`${name}:${feature}`];
  }

  /** A request's features (a service, or 'view:feature' / 'view' / 'view@version:feature' refs) with whether each is restricted. */
  requested(request: { readonly featureService?: string; readonly features?: readonly string[] }): RequestedFeature[] {
    const refs = request.featureService !== undefined
      ? this.serviceRefs(request.featureService) ?? []
      : (request.features ?? []).filter((text) => text.trim() !== '').flatMap((text) => {
          // Text that is no reference is kept as it is: no grant matches it, so it is refused, never skipped.
          const parsed = parseFeatureRef(text.trim());
          return parsed ? this.viewRefs(parsed.view, parsed.version, parsed.feature ? [parsed.feature] : null) : [text];
        });
    return [...new Set(refs)].map((ref) => ({ ref, restricted: this.restricted.has(ref) }));
  }

  private viewRefs(view: string, version: number | null, features: readonly string[] | null): string[] {
    const versions = this.views.get(view) ?? [];
    const spec = versions.find((v) => version === null || v.version === version);
    const names = features ?? spec?.features.map((f) => f.name) ?? [];
    return names.map((f) => `${view}:${f}`);
  }
}
