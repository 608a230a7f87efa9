import type { FeatureRepo } from '../../definitions/feature-repo.ts';
import type { KindSpec, ObjectKind } from '../../definitions/spec.ts';
import type { ObjectStatus } from '../../definitions/changes/current-version.ts';
import type { Plan } from '../../definitions/changes/plan.ts';

export interface RegisteredObject<K extends ObjectKind = ObjectKind> {
  readonly kind: K;
  readonly name: string;
  /** The view version (always 1 for the other kinds). */
  readonly version: number;
  /** Bumped in place by each additive change applied to this object. */
  readonly schemaVersion: number;
  readonly spec: KindSpec[K];
  readonly contentHash: string;
  /** 'removed' once apply no longer finds it in the repo (its history and offline data are kept). */
  readonly status: ObjectStatus;
  readonly appliedAt: Date;
}

/**
 * The registry's definitions: entities, sources, feature views (by version) and feature services,
 * planned against a repo, applied, listed, read, and their history.
 */
export interface DefinitionRegistry {
  plan(repo: FeatureRepo): Promise<Plan>;
  /**
   * Applies the plan in one transaction, serialized with other applies of the project. Throws a
   * BreakingChangeError naming the field when the plan holds a breaking change; a no-op when
   * nothing changed.
   */
  apply(repo: FeatureRepo): Promise<Plan>;
  /** Registered objects ordered by kind, name, version; removed ones only with includeRemoved. */
  listObjects(kind?: ObjectKind, options?: { readonly includeRemoved?: boolean }): Promise<RegisteredObject[]>;
  /**
   * The object; for views, the given version or else the current one: the highest 'active'
   * version, else the highest deprecated, else migrating, else removed (current-version.ts).
   */
  getObject<K extends ObjectKind>(kind: K, name: string, version?: number): Promise<RegisteredObject<K> | undefined>;
  /** Every applied state of an object, oldest first. */
  history(kind: ObjectKind, name: string): Promise<RegisteredObject[]>;
}
