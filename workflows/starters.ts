import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  commitsAvailableSignal,
  rebuildRequestedSignal,
  workflowIds,
  type CompactInput,
  type HistoricalInput,
  type IngestInput,
  type MigrateViewInput,
  type RebuildRequest,
  type VerifyInput,
  type ViewRef,
} from './contracts.ts';
import type * as workflows from './index.ts';

/**
 * How each pipeline is started: its workflow type, business-key id, arguments and id policies,
 * in one place for the SDK, the CLI and the activities that ask for a run. A starter returns the
 * options; the caller keeps its one `client.workflow.start` (or `signalWithStart`) call, naming
 * the workflow by its typed constant (workflow code may not import @temporalio/client).
 *
 * @example
 *   await client.workflow.signalWithStart<typeof materializeWorkflow, []>(workflowTypes.materialize, materializeStart(ref, 'granary'));
 *   // starts materialize/fraud/user_spend_features/v1, or signals it when it runs
 */
export const workflowTypes = {
  ingest: 'ingestWorkflow',
  materialize: 'materializeWorkflow',
  scheduledMaterialize: 'scheduledMaterializeWorkflow',
  rebuild: 'rebuildOnlineWorkflow',
  verify: 'verifyOnlineWorkflow',
  migrate: 'migrateViewWorkflow',
  historical: 'historicalWorkflow',
  compact: 'compactViewWorkflow',
} as const satisfies Record<string, keyof typeof workflows>;

/** A view's ref without whatever else the caller's object holds: the workflows' input shape. */
function viewRefOf(ref: ViewRef): ViewRef {
  return { project: ref.project, view: ref.view, version: ref.version };
}

/**
 * One batch's ingestion (`ingest/<project>/<view>/v<version>/<batchId>`): a second start attaches
 * to the running one; a completed one is not run again (only a failed one may be).
 */
export function ingestStart(input: IngestInput, taskQueue: string) {
  return {
    workflowId: workflowIds.ingest(input, input.batchId),
    taskQueue,
    args: [input] as [IngestInput],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
  };
}

/** The view's one materialization, by signal-with-start: signalled when it runs, started when it does not. */
export function materializeStart(ref: ViewRef, taskQueue: string) {
  return {
    workflowId: workflowIds.materialize(ref),
    taskQueue,
    args: [viewRefOf(ref)] as [ViewRef],
    signal: commitsAvailableSignal,
    signalArgs: [] as [],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  };
}

/**
 * The view's rebuild, by signal-with-start with the request (its tuning): a run that starts for
 * it uses the tuning; a running one is told, and builds again if its build was sealed before.
 */
export function rebuildStart(ref: ViewRef, taskQueue: string, request: RebuildRequest = {}) {
  return {
    workflowId: workflowIds.rebuild(ref),
    taskQueue,
    args: [{ ...viewRefOf(ref), ...request }] as [ViewRef & RebuildRequest],
    signal: rebuildRequestedSignal,
    signalArgs: [request] as [RebuildRequest],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  };
}

/**
 * A view's migration between two versions: a second start (CI re-running the job) attaches to
 * the running one; a finished one may run again (it resumes from what exists).
 */
export function migrateStart(input: MigrateViewInput, taskQueue: string) {
  return attachingStart(workflowIds.migrate(input), input, taskQueue);
}

/** Start options where a second start attaches to the running workflow of that id, and a finished one may run again. */
function attachingStart<I>(workflowId: string, input: I, taskQueue: string) {
  return {
    workflowId,
    taskQueue,
    args: [input] as [I],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  };
}

/**
 * A view's partitioned verify: a second start while one runs attaches to it (its report is as
 * fresh as the running one's start); a finished one may run again.
 */
export function verifyStart(input: VerifyInput, taskQueue: string) {
  return attachingStart(workflowIds.verify(input), input, taskQueue);
}

/**
 * A view version's compaction into a latest-value snapshot (`compact-view/<project>/<view>/v<version>`):
 * a second start while one runs attaches to it; a finished one may run again (it compacts the
 * commits since, or finds the snapshot up to date).
 */
export function compactStart(input: CompactInput, taskQueue: string) {
  return attachingStart(workflowIds.compact(input), input, taskQueue);
}

/** The action of a view's compaction schedule: each tick starts (or joins) the view's compaction. */
export function compactAction(input: CompactInput, taskQueue: string) {
  return { type: 'startWorkflow' as const, workflowType: workflowTypes.compact, workflowId: workflowIds.compact(input), taskQueue, args: [input] as [CompactInput] };
}

/**
 * A distributed training set (`historical/<project>/<id>`, the id a hash of the request): a second
 * start of the same request while it runs attaches to it; a finished one may run again.
 */
export function historicalStart(input: HistoricalInput, taskQueue: string) {
  return attachingStart(workflowIds.historical(input), input, taskQueue);
}

/** The action of a view's materialization schedule: each tick starts a scheduled materialization. */
export function scheduledMaterializeAction(ref: ViewRef, taskQueue: string) {
  return {
    type: 'startWorkflow' as const,
    workflowType: workflowTypes.scheduledMaterialize,
    workflowId: workflowIds.scheduledMaterialize(ref),
    taskQueue,
    args: [viewRefOf(ref)] as [ViewRef],
  };
}
