import type { FeatureRepo } from '../feature-repo.ts';
import { specOf, type FeatureViewSpec, type KindSpec } from '../spec.ts';
import { classifyChanges, classifyForConsumers, type ViewUse } from './classify-changes.ts';
import type { ObjectChange, Plan } from './plan.ts';
import type { ObjectStatus } from './current-version.ts';
import type { ObjectKind } from '../spec.ts';
import { serviceEffects, type ObjectState } from './service-effects.ts';
import { diffSpecs } from './spec-diff.ts';

/** An object as the registry holds it: what planChanges compares the repo against. */
export interface RegisteredState {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly version: number;
  readonly spec: KindSpec[ObjectKind];
  readonly status: ObjectStatus;
}

export interface DesiredObject {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly version: number;
  readonly spec: KindSpec[ObjectKind];
}

export const KIND_ORDER: readonly ObjectKind[] = ['entity', 'source', 'featureView', 'featureService'];

/**
 * The plan: what applying a feature repo would change in the registry. A pure function of the
 * registered objects and the repo, so it runs the same in `granary plan` and inside apply's lock.
 * Objects are keyed by (kind, name, version); a new view version is an `add`, an object no longer
 * in the repo a `remove`. With the changes comes their effect on every served feature service
 * (service-effects.ts), and the changes that break its consumers are marked (classify-changes.ts).
 *
 * @example
 *   planChanges('fraud', [], repo).changes.map((c) => `${c.action} ${c.kind} ${c.name}`)
 *   // => ['add entity user', 'add source transactions', 'add featureView user_spend', ...]
 */
export function planChanges(project: string, registered: readonly RegisteredState[], repo: FeatureRepo): Plan {
  const desired = desiredObjects(repo);
  const registeredByKey = new Map(registered.map((r) => [keyOf(r), r]));
  const desiredKeys = new Set(desired.map(keyOf));
  const live = registered.filter((r) => r.status !== 'removed');
  const nextVersion = nextVersions(registered, desired);
  const keptViews = live.filter((r) => r.kind === 'featureView' && desiredKeys.has(keyOf(r)));

  const changes: ObjectChange[] = [];
  for (const object of desired) {
    const current = registeredByKey.get(keyOf(object));
    if (current === undefined) {
      changes.push({ kind: object.kind, name: object.name, version: object.version, action: 'add', fields: [], breaking: false });
      continue;
    }
    const differences = diffSpecs(current.spec, object.spec);
    if (current.status !== 'removed' && differences.length === 0) continue;
    const fields = classifyChanges(differences, {
      kind: object.kind,
      name: object.name,
      version: object.version,
      nextVersion: nextVersion(object.name),
      usedBy: object.kind === 'entity' || object.kind === 'source' ? usersOf(object, keptViews, nextVersion) : [],
    });
    changes.push({
      kind: object.kind,
      name: object.name,
      version: object.version,
      action: current.status === 'removed' ? 'add' : 'update',
      fields,
      breaking: fields.some((f) => f.breaking),
    });
  }
  for (const object of live) {
    if (!desiredKeys.has(keyOf(object))) {
      changes.push({ kind: object.kind, name: object.name, version: object.version, action: 'remove', fields: [], breaking: false });
    }
  }
  changes.sort(compareObjects);
  const services = serviceEffects(registered, stateAfter(registered, desired, changes));
  const classified = changes.map((c) => classifyForConsumers(c, services));
  return {
    project,
    changes: classified,
    breaking: classified.some((c) => c.breaking),
    services,
    breaksConsumers: services.some((e) => e.breaking),
  };
}

/**
 * The registry's objects as applying these changes leaves them (the statuses apply-changes.ts
 * gives): an add is 'active', or 'migrating' for a view version declared with `migrateFrom`; a
 * re-added object is 'active' again; an update keeps its status; a remove marks it 'removed'.
 */
function stateAfter(registered: readonly RegisteredState[], desired: readonly DesiredObject[], changes: readonly ObjectChange[]): ObjectState[] {
  const state = new Map<string, ObjectState>(registered.map((r) => [keyOf(r), r]));
  const desiredByKey = new Map(desired.map((d) => [keyOf(d), d]));
  for (const change of changes) {
    const key = keyOf(change);
    const current = state.get(key);
    const wanted = desiredByKey.get(key);
    if (change.action === 'remove') {
      if (current) state.set(key, { ...current, status: 'removed' });
    } else if (wanted) {
      const migrating = wanted.kind === 'featureView' && (wanted.spec as FeatureViewSpec).migrateFrom !== undefined;
      const status: ObjectStatus = current === undefined ? (migrating ? 'migrating' : 'active') : current.status === 'removed' ? 'active' : current.status;
      state.set(key, { ...wanted, status });
    }
  }
  return [...state.values()];
}

/** The repo's definitions as registry objects (specs), keyed like the registry keys them. */
export function desiredObjects(repo: FeatureRepo): DesiredObject[] {
  return [
    ...repo.entities.map((d) => ({ kind: 'entity' as const, name: d.name, version: 1, spec: specOf(d) })),
    ...repo.sources.map((d) => ({ kind: 'source' as const, name: d.name, version: 1, spec: specOf(d) })),
    ...repo.views.map((d) => ({ kind: 'featureView' as const, name: d.name, version: d.version, spec: specOf(d) })),
    ...repo.services.map((d) => ({ kind: 'featureService' as const, name: d.name, version: 1, spec: specOf(d) })),
  ];
}

export function compareObjects(a: { kind: ObjectKind; name: string; version: number }, b: typeof a): number {
  return KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name) || a.version - b.version;
}

function keyOf(o: { kind: ObjectKind; name: string; version: number }): string {
  return `${o.kind}\u0000${o.name}\u0000${o.version}`;
}

/** For each view name, the first version neither registered (in any state) nor in the repo. */
function nextVersions(registered: readonly RegisteredState[], desired: readonly DesiredObject[]): (name: string) => number {
  const highest = new Map<string, number>();
  for (const o of [...registered, ...desired]) {
    if (o.kind === 'featureView') highest.set(o.name, Math.max(highest.get(o.name) ?? 0, o.version));
  }
  return (name) => (highest.get(name) ?? 0) + 1;
}

function usersOf(object: DesiredObject, views: readonly RegisteredState[], nextVersion: (name: string) => number): ViewUse[] {
  return views
    .filter((v) => {
      const spec = v.spec as FeatureViewSpec;
      return object.kind === 'entity' ? spec.entities.some((e) => e.name === object.name) : spec.source === object.name;
    })
    .map((v) => ({ name: v.name, version: v.version, nextVersion: nextVersion(v.name) }));
}
