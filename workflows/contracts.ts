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
  readonly rowsSkipped: number;
  /** 'rebuild-requested': Redis lost the generation, a rebuild was started instead. */
  readonly state: 'starting' | 'applying' | 'done' | 'rebuild-requested';
}

export type MaterializeResult = MaterializeProgress;

/** Sent by ingestion: new commits exist, look again before finishing. */
export const commitsAvailableSignal = defineSignal('commits-available');
/** Progress of a materialization, for the CLI's progress bar. */
export const materializeProgressQuery = defineQuery<MaterializeProgress>('materialize-progress');

export interface RebuildInput extends ViewRef {
  /** Entity-hash partitions, each one activity (default 8): more workers rebuild them at once. */
  readonly partitions?: number;
  /** Partitions in flight at once (default 2): each holds its partition's latest rows in memory. */
  readonly parallelism?: number;
  /** Seconds between the cut-over and dropping the old generation's keys (default 60). */
  readonly retireAfterSeconds?: number;
  /** Carried over continue-as-new after Redis lost the generation being built. */
  readonly restarts?: number;
}

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
  readonly rowsRead: number;
  /** Workflow time (ms) the rebuild started, for an ETA. */
  readonly startedAt: number;
  /** Entities verify found matching offline before the cut-over. */
  readonly verifiedEntities?: number;
}

export type RebuildResult = RebuildProgress;

export const rebuildProgressQuery = defineQuery<RebuildProgress>('rebuild-progress');

/** Workflow ids are business keys: the id says what runs, so a second start finds the first. */
export const workflowIds = {
  ingest: (ref: ViewRef, batchId: string): string => `ingest/${ref.project}/${ref.view}/v${ref.version}/${batchId}`,
  materialize: (ref: ViewRef): string => `materialize/${ref.project}/${ref.view}/v${ref.version}`,
  schedule: (ref: ViewRef): string => `materialize-schedule/${ref.project}/${ref.view}/v${ref.version}`,
  rebuild: (ref: ViewRef): string => `rebuild-online/${ref.project}/${ref.view}/v${ref.version}`,
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
  invalidBatch: 'InvalidBatch',
} as const;
