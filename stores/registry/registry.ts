import type { FeatureRepo } from '../../definitions/feature-repo.ts';
import type { KindSpec } from '../../definitions/spec.ts';
import type { ServiceEffect } from './service-effects.ts';

/**
 * The registry's contract (PostgreSQL): definitions and their versions, the ordered offline
 * commit log, materialization watermarks and online generations, all per project.
 */
export type ObjectKind = keyof KindSpec;

export type ObjectStatus = 'active' | 'migrating' | 'deprecated' | 'removed';

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

export interface FieldChange {
  /** Dotted path in the spec, e.g. 'features.spend_7d_avg.type'. */
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly breaking: boolean;
  /**
   * Why it is breaking, and what to do (e.g. "create feature view 'user_spend' version 2 beside
   * version 1"); for additive changes, an optional note (e.g. a rename hint).
   */
  readonly reason?: string;
  /**
   * Set (true) when apply accepts the change but it alters what a served feature service returns
   * (its columns, or the values served for missing ones): breaking for the models reading it.
   */
  readonly breaksConsumers?: true;
}

export interface ObjectChange {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly version: number;
  /**
   * A view is keyed by (name, version): a new version is an 'add'. Re-adding a removed object is
   * an 'add' whose fields are diffed against its last registered state.
   */
  readonly action: 'add' | 'update' | 'remove';
  readonly fields: readonly FieldChange[];
  readonly breaking: boolean;
  /** Set (true) when the change breaks consumers of a feature service (see FieldChange). */
  readonly breaksConsumers?: true;
}

export interface Plan {
  readonly project: string;
  readonly changes: readonly ObjectChange[];
  /** Some change is breaking: apply refuses the plan. */
  readonly breaking: boolean;
  /** What the plan does to each served feature service (stores/registry/service-effects.ts). */
  readonly services: readonly ServiceEffect[];
  /** Some service's consumers break: it is removed, or serves other columns or values. */
  readonly breaksConsumers: boolean;
}

export interface CommitObject {
  readonly key: string;
  readonly rowCount: number;
  readonly minEventTime: Date;
  readonly maxEventTime: Date;
  readonly checksum: string;
  readonly bytes: number;
}

export interface NewCommit {
  readonly view: string;
  readonly version: number;
  readonly batchId: string;
  /** The view's schema version the objects were written with. */
  readonly schemaVersion: number;
  readonly objects: readonly CommitObject[];
}

export interface Commit extends NewCommit {
  /** Global, strictly increasing: the order materialization applies commits in. */
  readonly seq: number;
  readonly committedAt: Date;
}

export interface CommitRange {
  /** Commits with seq > after (default 0). */
  readonly after?: number;
  /** And seq <= upTo (default: no bound). */
  readonly upTo?: number;
  readonly limit?: number;
}

export interface Generation {
  readonly view: string;
  readonly version: number;
  readonly generation: number;
  /**
   * building (a rebuild fills it; at most one) -> active (serving reads it; exactly one) ->
   * retired (replaced by a newer one; its keys are still in Redis) -> dropped (keys deleted).
   */
  readonly state: 'building' | 'active' | 'retired' | 'dropped';
  readonly createdAt: Date;
  readonly activatedAt?: Date;
  readonly retiredAt?: Date;
  /** Set by `generations()`: the generation's watermark and when it last moved. */
  readonly watermark?: number;
  readonly watermarkUpdatedAt?: Date;
}

/**
 * Where a project's offline data lives, recorded in the registry by its first apply
 * (stores/offline-home.ts): every process that touches the project's offline store must be
 * configured with the same one. Never holds credentials.
 */
export interface OfflineHome {
  readonly kind: 'local' | 's3';
  /** 's3://bucket/prefix', or the absolute path of a local folder. */
  readonly url: string;
  /** The S3 endpoint (MinIO and friends), without credentials; null for AWS's own and for a local folder. */
  readonly s3Endpoint: string | null;
  readonly s3Bucket: string | null;
  /** Set on homes read from the registry. */
  readonly recordedAt?: Date;
}

export type ViewMigrationState = 'running' | 'switched' | 'completed' | 'rolled-back' | 'failed';

/** A migration of a view from one version to a later one (stores/registry/migration-queries.ts). */
export interface ViewMigrationRecord {
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly state: ViewMigrationState;
  /** Content hash of the target version's migrateFrom spec when the migration (re)started. */
  readonly specHash: string;
  readonly workflowId: string;
  /** Why it failed or was rolled back. */
  readonly message?: string;
  readonly startedAt: Date;
  readonly switchedAt?: Date;
  readonly finishedAt?: Date;
  readonly updatedAt: Date;
}

export interface Registry {
  readonly project: string;

  /** Creates or upgrades the registry's own tables (versioned, idempotent, safe concurrently). */
  migrate(): Promise<void>;

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

  /**
   * Inserts the commit, or returns the existing one for (view, version, batchId). Commits of one
   * view become visible in seq order. Throws when the view version is not registered.
   */
  commit(input: NewCommit): Promise<{ commit: Commit; created: boolean }>;
  /** The commit of one batch, if it was committed. */
  commitFor(view: string, version: number, batchId: string): Promise<Commit | undefined>;
  commits(view: string, version: number, range?: CommitRange): Promise<Commit[]>;
  latestCommitSeq(view: string, version: number): Promise<number>;

  /** The last commit seq applied to that generation; 0 when none. */
  watermark(view: string, version: number, generation: number): Promise<number>;
  /** Moves the watermark to seq if that is forward; returns the watermark after. */
  advanceWatermark(view: string, version: number, generation: number, seq: number): Promise<number>;

  /** The generation serving reads; creates generation 1 as active when there is none. */
  activeGeneration(view: string, version: number): Promise<Generation>;
  /** The greatest event time in the commits up to `upTo` (undefined when there are none). */
  newestEventTime(view: string, version: number, upTo: number): Promise<Date | undefined>;
  /** Every generation of the view version, newest first, with its watermark. */
  generations(view: string, version: number): Promise<Generation[]>;
  /** The generation being built, or a new one (the next number) in state 'building'. Idempotent. */
  buildingGeneration(view: string, version: number): Promise<Generation>;
  /**
   * The cut-over, in one transaction: the active generation becomes retired and `generation`
   * (building, or already active: a repeat is a no-op) becomes active. Throws when it is
   * retired or dropped.
   */
  activateGeneration(view: string, version: number, generation: number): Promise<Generation>;
  /** Records that a retired generation's keys were deleted. */
  markGenerationDropped(view: string, version: number, generation: number): Promise<void>;

  /** Records a migration as running (again, after a failure or rollback); returns it as it is otherwise. */
  beginMigration(input: { view: string; from: number; to: number; specHash: string; workflowId: string }): Promise<ViewMigrationRecord>;
  /** Migrations of the project (of one view, of one pair of versions), by view and versions. */
  migrations(filter?: { view?: string; from?: number; to?: number }): Promise<ViewMigrationRecord[]>;
  /** One transaction: `to` active, `from` deprecated, the migration switched. A repeat is a no-op. */
  switchMigration(view: string, from: number, to: number): Promise<ViewMigrationRecord>;
  /** One transaction: `from` active, `to` migrating, the migration rolled back; refused once completed. */
  rollbackMigration(view: string, from: number, to: number, message?: string): Promise<ViewMigrationRecord>;
  finishMigration(view: string, from: number, to: number, state: 'completed' | 'failed', message?: string): Promise<ViewMigrationRecord>;

  /** Where the project's offline data lives; undefined until recorded. */
  offlineHome(): Promise<OfflineHome | undefined>;
  /** Records the project's offline home unless one is recorded; returns the recorded one (the first wins). */
  recordOfflineHome(home: OfflineHome): Promise<{ home: OfflineHome; recorded: boolean }>;

  close(): Promise<void>;
}
