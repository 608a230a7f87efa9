import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * What workflows and their callers share: task queue, workflow ids, inputs, results, signals
 * and queries. Imported by workflow code, activities, workers and the CLI alike, so it holds
 * only types and Temporal definitions (no I/O, no Node modules).
 */
export const DEFAULT_TASK_QUEUE = 'granary';

/** One feature view version of one project: what most pipelines act on. */
export interface ViewRef {
  readonly project: string;
  readonly view: string;
  readonly version: number;
}

export interface IngestInput extends ViewRef {
  readonly batchId: string;
  /** Where the client staged the validated batch (an offline-store key). */
  readonly stagingKey: string;
}

export interface IngestResult {
  readonly seq: number;
  readonly rows: number;
  readonly objects: readonly string[];
  /** False when the batch id had been committed before: nothing was written again. */
  readonly created: boolean;
  /** True once the commit is in the online store (always false for offline-only views). */
  readonly materialized: boolean;
  readonly reason?: string;
  /**
   * Dual-write during a migration: the batch rewritten (through the declared transform) into
   * each later version migrating from this one. An error here leaves this version's commit in
   * place; the migration's backfill meets the same rows and stops, naming them.
   */
  readonly migrated?: readonly MigratedCopy[];
}

export interface MigratedCopy {
  readonly version: number;
  readonly seq?: number;
  readonly materialized: boolean;
  readonly error?: string;
}

export interface MaterializeInput extends ViewRef {
  /** Carried over continue-as-new. */
  readonly carried?: MaterializeProgress;
}

export interface MaterializeProgress {
  readonly generation: number;
  readonly watermark: number;
  /** Highest commit seq seen so far (watermark reaches it when done). */
  readonly target: number;
  readonly commitsApplied: number;
  readonly rowsWritten: number;
  /** Rows not written: older than what Redis holds or than another row of the same entity applied with them, or expired. */
  readonly rowsSkipped: number;
  /** Rows refused: a time later than their commit's time + the skew (future-event-time.ts). Absent in runs started by older code. */
  readonly rowsRefused?: number;
  /** 'rebuild-requested': Redis lost the generation, a rebuild was started instead. */
  readonly state: 'starting' | 'applying' | 'done' | 'rebuild-requested';
}

export type MaterializeResult = MaterializeProgress;

/** Sent by ingestion: new commits exist, look again before finishing. */
export const commitsAvailableSignal = defineSignal('commits-available');
/** Progress of a materialization, for the CLI's progress bar. */
export const materializeProgressQuery = defineQuery<MaterializeProgress>('materialize-progress');

export interface RebuildInput extends ViewRef {
  /**
   * Entity-hash partitions, each one activity: more workers rebuild them at once. Default: the
   * plan's, at least 8 and about 1.25M committed rows each (plan-rebuild.ts partitionsFor).
   */
  readonly partitions?: number;
  /** Partitions in flight at once (default 2): each holds its partition's latest rows in memory. */
  readonly parallelism?: number;
  /** Seconds between the cut-over and dropping the old generation's keys (default 60). */
  readonly retireAfterSeconds?: number;
  /** Carried over continue-as-new after Redis lost the generation being built. */
  readonly restarts?: number;
}

/** What a caller may tune when it asks for a rebuild; a rebuild that starts for its request uses it. */
export type RebuildRequest = Pick<RebuildInput, 'partitions' | 'parallelism' | 'retireAfterSeconds'>;

/**
 * Sent with every request for a rebuild (signal-with-start): the run that receives it after its
 * build is sealed builds again once done, so a request is never answered by a build older than it.
 */
export const rebuildRequestedSignal = defineSignal<[RebuildRequest?]>('rebuild-requested');

export interface RebuildProgress {
  readonly state: 'starting' | 'building' | 'catching-up' | 'verifying' | 'cutting-over' | 'retiring' | 'done';
  /** The generation being built. */
  readonly generation: number;
  /** The generation serving reads when the rebuild started. */
  readonly previousGeneration: number;
  /** The partitions rebuild the commits up to this seq; later ones are caught up. */
  readonly upTo: number;
  readonly watermark: number;
  readonly partitions: number;
  readonly partitionsDone: number;
  readonly entitiesWritten: number;
  /** Committed rows read by the build: rowsCommitted when each is read once (runs of older code read every object per partition). */
  readonly rowsRead: number;
  /** Committed rows the build covers (commits up to upTo). Absent in runs of older code. */
  readonly rowsCommitted?: number;
  /** The snapshot's seq when the build started from one (it read only the commits after it, plus the snapshot's rows). */
  readonly snapshotSeq?: number;
  /** Rows refused: a time later than their commit's time + the skew (future-event-time.ts). */
  readonly rowsRefused?: number;
  /** Slices of commits the build reads once each, and how many are scattered into partition runs. */
  readonly slices?: number;
  readonly slicesDone?: number;
  /** Workflow time (ms) the rebuild started, for an ETA. */
  readonly startedAt: number;
  /** Entities verify found matching offline before the cut-over. */
  readonly verifiedEntities?: number;
  /** A request came after this run's build was sealed: a new build follows this one (same workflow id, continued as new). */
  readonly rebuildFollows?: boolean;
  /** After the cut-over: the workflow that drops the retired generation's keys once the grace has passed. */
  readonly retire?: { readonly workflowId: string; readonly generation: number; readonly afterSeconds: number };
}

export type RebuildResult = RebuildProgress;

/** A rebuild's retire phase: drop `generation` (retired by the cut-over) and any older retired one, after the grace. */
export interface RetireInput extends ViewRef {
  readonly generation: number;
  readonly retireAfterSeconds: number;
}

export interface RetireResult {
  readonly generation: number;
  readonly keysDropped: number;
}

export const rebuildProgressQuery = defineQuery<RebuildProgress>('rebuild-progress');

/** A partitioned verify of a view's active online generation (`granary verify`). */
export interface VerifyInput extends ViewRef {
  /** Entity-hash partitions, each one verify activity. Default: the plan's, as for a rebuild. */
  readonly partitions?: number;
  /** Slices and partitions in flight at once (default 2): each holds its rows in memory. */
  readonly parallelism?: number;
}

export interface VerifyProgress {
  readonly state: 'planning' | 'scattering' | 'verifying' | 'reporting' | 'done';
  readonly generation: number;
  readonly slices: number;
  readonly slicesDone: number;
  readonly partitions: number;
  readonly partitionsDone: number;
  /** Entities compared in the partitions done. */
  readonly entitiesCompared: number;
}

export const verifyProgressQuery = defineQuery<VerifyProgress>('verify-progress');

/** A migration of one view from version `from` to a later version `to`. */
export interface MigrateViewInput {
  readonly project: string;
  readonly view: string;
  readonly from: number;
  readonly to: number;
  /** Seconds between the switch and removing the old version's online keys (default one day). */
  readonly graceSeconds?: number;
  /** Old-version commits migrated per backfill activity (default 20). */
  readonly commitsPerActivity?: number;
}

export type MigrationState =
  | 'starting'
  | 'backfilling'
  | 'materializing'
  | 'verifying'
  | 'switching'
  | 'grace'
  | 'waiting-for-pinned-services'
  | 'removing-old-keys'
  | 'completed'
  | 'rolled-back'
  | 'failed';

export interface MigrationProgress {
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly state: MigrationState;
  /** Commits of the old version when the backfill started (more may land: dual-write covers them). */
  readonly sourceCommits: number;
  /** Old-version commits the backfill went through, and of those, the ones it rewrote (the rest were there already). */
  readonly commitsDone: number;
  readonly commitsRewritten: number;
  readonly rowsRewritten: number;
  /** The backfill covered the old version's commits up to this seq. */
  readonly backfilledUpTo: number;
  readonly verify?: MigrationCheck;
  /** Feature services that now read the new version (unpinned), and those pinned to the old one. */
  readonly switchedServices?: readonly string[];
  readonly pinnedServices?: readonly string[];
  /** Workflow time (ms) after which the old version's online keys are removed. */
  readonly removeOldKeysAt?: number;
  readonly startedAt: number;
  readonly message?: string;
}

/** A migration's progress before its first step has reported anything. */
export function startingMigrationProgress(input: Pick<MigrateViewInput, 'view' | 'from' | 'to'>, startedAt: number): MigrationProgress {
  return { view: input.view, from: input.from, to: input.to, state: 'starting', sourceCommits: 0, commitsDone: 0, commitsRewritten: 0, rowsRewritten: 0, backfilledUpTo: 0, startedAt };
}

export interface MigrationCheck {
  readonly sourceCommits: number;
  readonly sourceRows: number;
  readonly migratedRows: number;
  readonly entities: number;
  readonly matching: number;
  readonly expired: number;
}

export type MigrationResult = MigrationProgress;

export const migrationProgressQuery = defineQuery<MigrationProgress>('migration-progress');
/** Returns services to the old version (before the switch: stops the migration). */
export const rollbackMigrationSignal = defineSignal<[reason?: string]>('rollback-migration');

/**
 * What a distributed training set is asked for (retrieval/plan-historical-retrieval.ts's options,
 * as a payload): the entity file the caller put in the run's scratch, or a snapshot's window.
 */
export interface HistoricalRequest {
  /** Offline-store key of the entity file (.parquet or .csv), in the run's scratch; absent for a snapshot. */
  readonly entitiesKey?: string;
  readonly features?: readonly string[];
  readonly featureService?: string;
  readonly fullFeatureNames?: boolean;
  readonly eventTimestampColumn?: string;
  /** Snapshot window, ms since epoch. */
  readonly start?: number;
  readonly end?: number;
}

/** A training set built across workers (`granary historical --distributed`). */
export interface HistoricalInput {
  readonly project: string;
  /** The run's id: what the request and the entity file hash to, unless the caller names it. */
  readonly id: string;
  readonly request: HistoricalRequest;
  /** Entity-hash partitions, each one activity. Default: the plan's (about 2M label plus feature rows each, at least 2). */
  readonly partitions?: number;
  /** Partitions in flight at once (default 4). */
  readonly parallelism?: number;
  /** DuckDB's memory limit in each activity, e.g. '2GB' (default: DuckDB's, 80% of RAM). */
  readonly memoryLimit?: string;
  /** DuckDB threads in each activity (default: one per core). */
  readonly threads?: number;
}

export interface HistoricalProgress {
  readonly state: 'planning' | 'joining' | 'merging' | 'done';
  readonly partitions: number;
  readonly partitionsDone: number;
  /** Entity rows (the training set's rows), known once planned. */
  readonly rows: number;
}

export interface HistoricalResult {
  readonly rows: number;
  readonly bytes: number;
  readonly columns: readonly string[];
  readonly partitions: number;
  /** Offline-store key of the merged training set; the caller copies it to its destination and deletes it. */
  readonly resultKey: string;
}

export const historicalProgressQuery = defineQuery<HistoricalProgress>('historical-progress');

/** A compaction of a view version into a latest-value snapshot (compact-view-workflow.ts). */
export interface CompactInput extends ViewRef {
  /** Entity-hash partitions of the snapshot: match the rebuild's (default: the newest snapshot's, or sized from the rows committed). */
  readonly partitions?: number;
  /** Partitions (and slices) compacted at once (default 2). */
  readonly parallelism?: number;
}

export interface CompactResult {
  readonly view: string;
  readonly version: number;
  /** The snapshot's commit seq (0: nothing committed). */
  readonly seq: number;
  readonly partitions: number;
  /** The snapshot it started from (0: none, every commit read). */
  readonly baseSeq: number;
  readonly entities: number;
  /** Rows read: the base snapshot's runs plus the commits after it. */
  readonly rowsRead: number;
  readonly rowsCommitted: number;
  /** Nothing to do: a snapshot at the latest commit existed already. */
  readonly upToDate: boolean;
}

/** Workflow ids are business keys: the id says what runs, so a second start finds the first. */
export const workflowIds = {
  ingest: (ref: ViewRef, batchId: string): string => `ingest/${ref.project}/${ref.view}/v${ref.version}/${batchId}`,
  materialize: (ref: ViewRef): string => `materialize/${ref.project}/${ref.view}/v${ref.version}`,
  schedule: (ref: ViewRef): string => `materialize-schedule/${ref.project}/${ref.view}/v${ref.version}`,
  /** The runs a materialization schedule starts (each then signals-with-start the view's one materialization). */
  scheduledMaterialize: (ref: ViewRef): string => `scheduled-materialize/${ref.project}/${ref.view}/v${ref.version}`,
  rebuild: (ref: ViewRef): string => `rebuild-online/${ref.project}/${ref.view}/v${ref.version}`,
  verify: (ref: ViewRef): string => `verify-online/${ref.project}/${ref.view}/v${ref.version}`,
  compact: (ref: ViewRef): string => `compact-view/${ref.project}/${ref.view}/v${ref.version}`,
  compactSchedule: (ref: ViewRef): string => `${workflowIds.compactSchedules(ref.project)}${ref.view}/v${ref.version}`,
  /** What every compaction schedule id of a project starts with. */
  compactSchedules: (project: string): string => `compact-schedule/${project}/`,
  retire: (ref: ViewRef, generation: number): string => `retire-online/${ref.project}/${ref.view}/v${ref.version}/g${generation}`,
  migrate: (m: { project: string; view: string; from: number; to: number }): string => `migrate-view/${m.project}/${m.view}/v${m.from}-to-v${m.to}`,
  historical: (run: { project: string; id: string }): string => `historical/${run.project}/${run.id}`,
};

/** Failure types that retrying cannot fix; workflows and callers match on them. */
export const failureTypes = {
  redisDataLost: 'RedisDataLost',
  /** Redis came back from a snapshot older than the watermark: the commits after it are applied again. */
  redisRolledBack: 'RedisRolledBack',
  /** The generation is no longer active (a rebuild cut over): start again on the active one. */
  generationRetired: 'GenerationRetired',
  /** A rebuilt generation disagreed with the offline store: it is not cut over. */
  rebuildDiverged: 'RebuildDiverged',
  unknownView: 'UnknownFeatureView',
  /** A migration step found something retrying cannot fix: a value that does not convert, a divergence, a bad declaration. */
  migrationFailed: 'MigrationFailed',
  /** The migration needs a TypeScript transform and this worker has no (or another) feature repo. */
  transformUnavailable: 'MigrationTransformUnavailable',
  /** The view version was retired by a completed migration: it takes no more writes. */
  versionRetired: 'VersionRetired',
  invalidBatch: 'InvalidBatch',
  /** A training set's request or entity file is wrong (an unknown feature, a bad entity row): retrying cannot fix it. */
  invalidHistoricalRequest: 'InvalidHistoricalRequest',
} as const;

/**
 * The dimensions a monitoring run measures (monitoring/): freshness, completeness and distribution
 * per feature view; skew (served values against training sets) and latency (the servers' shared
 * histograms) per feature service.
 */
export type MonitorDimension = 'freshness' | 'completeness' | 'distribution' | 'skew' | 'latency';
export const MONITOR_DIMENSIONS: readonly MonitorDimension[] = ['freshness', 'completeness', 'distribution', 'skew', 'latency'];
/** The dimensions measured per feature service rather than per view. */
export const SERVICE_DIMENSIONS: readonly MonitorDimension[] = ['skew', 'latency'];

/** A monitoring run of one project (`monitor/<project>/...`). */
export interface MonitorInput {
  readonly project: string;
  /** Feature views to measure (default: every active view). */
  readonly views?: readonly string[];
  readonly dimensions: readonly MonitorDimension[];
}

/** A feature service of a project, as the service dimensions measure it. */
export interface ServiceRef {
  readonly project: string;
  readonly service: string;
}

export interface MonitorRunResult {
  readonly views: number;
  /** Feature services measured (skew, latency); absent in runs recorded before those dimensions. */
  readonly services?: number;
  readonly results: number;
  readonly alerts: number;
  readonly warnings: number;
  /** State changes notified to the webhooks. */
  readonly changes: number;
}

/** Monitoring workflow ids: `monitor/<project>/<dimensions>/<views or all>`, so a second start of the same request attaches. */
export const monitorWorkflowIds = {
  run: (input: MonitorInput): string =>
    `monitor/${input.project}/${[...input.dimensions].sort().join('+')}/${input.views?.length ? [...input.views].sort().join(',') : 'all'}`,
  schedule: (project: string, cadence: string): string => `monitor-schedule/${project}/${cadence}`,
};
