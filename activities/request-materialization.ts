import { WorkflowFailedError } from '@temporalio/client';
import type { materializeWorkflow } from '../workflows/materialize-workflow.ts';
import { failureTypes, workflowIds, type ViewRef } from '../workflows/contracts.ts';
import { materializeStart, workflowTypes } from '../workflows/starters.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';

/**
 * Asks the view's one materialization workflow to look for new commits: signals it when it
 * runs, starts it when it does not (signal-with-start, so two callers never start two).
 */
export function requestMaterialization(deps: ActivityDeps) {
  return async function requestMaterialization(ref: ViewRef): Promise<void> {
    await deps.temporal.client.workflow.signalWithStart<typeof materializeWorkflow, []>(workflowTypes.materialize, materializeStart(ref, deps.temporal.taskQueue));
  };
}

export interface MaterializationState {
  /** The watermark of the active generation is at or past the seq, and Redis holds that generation (its marker). */
  readonly reached: boolean;
  /** A materialization run is going. */
  readonly running: boolean;
  /** Why the last run failed for good (e.g. Redis lost its data), when it did. */
  readonly failure?: string;
}

export function materializationState(deps: ActivityDeps) {
  return async function materializationState(ref: ViewRef, seq: number): Promise<MaterializationState> {
    const registry = deps.registry(ref.project);
    const { generation } = await registry.activeGeneration(ref.view, ref.version);
    if ((await registry.watermark(ref.view, ref.version, generation)) >= seq) {
      // Redis must agree with the watermark: a generation whose marker is gone lost the rows
      // (issue 12, 6b). Then a materialization run finds the loss and rebuilds, or fails saying so.
      const { view } = await registeredView(registry, ref);
      if (await deps.online.hasGenerationMarker(onlineTarget(ref, view, generation))) return { reached: true, running: false };
    }
    const handle = deps.temporal.client.workflow.getHandle(workflowIds.materialize(ref));
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch (error) {
      if ((error as Error).name === 'WorkflowNotFoundError') return { reached: false, running: false };
      throw error;
    }
    if (status === 'RUNNING') return { reached: false, running: true };
    if (status !== 'FAILED') return { reached: false, running: false };
    const failure = await permanentFailure(handle);
    return failure ? { reached: false, running: false, failure } : { reached: false, running: false };
  };
}

async function permanentFailure(handle: { result(): Promise<unknown> }): Promise<string | undefined> {
  try {
    await handle.result();
    return undefined;
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) return undefined;
    let cause: unknown = error.cause;
    while (cause instanceof Error) {
      const type = (cause as { type?: string }).type;
      if (type && (Object.values(failureTypes) as string[]).includes(type)) return cause.message;
      cause = cause.cause;
    }
    return undefined;
  }
}
