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
  readonly state: 'starting' | 'applying' | 'done';
}

export type MaterializeResult = MaterializeProgress;

/** Sent by ingestion: new commits exist, look again before finishing. */
export const commitsAvailableSignal = defineSignal('commits-available');
/** Progress of a materialization, for the CLI's progress bar. */
export const materializeProgressQuery = defineQuery<MaterializeProgress>('materialize-progress');

/** Workflow ids are business keys: the id says what runs, so a second start finds the first. */
export const workflowIds = {
  ingest: (ref: ViewRef, batchId: string): string => `ingest/${ref.project}/${ref.view}/v${ref.version}/${batchId}`,
  materialize: (ref: ViewRef): string => `materialize/${ref.project}/${ref.view}/v${ref.version}`,
  schedule: (ref: ViewRef): string => `materialize-schedule/${ref.project}/${ref.view}/v${ref.version}`,
};

/** Failure types that retrying cannot fix; workflows and callers match on them. */
export const failureTypes = {
  redisDataLost: 'RedisDataLost',
  unknownView: 'UnknownFeatureView',
  invalidBatch: 'InvalidBatch',
} as const;
