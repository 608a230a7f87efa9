import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { rebuildOnlineWorkflow } from '../workflows/rebuild-online-workflow.ts';
import { rebuildRequestedSignal, workflowIds, type RebuildRequest, type ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';

/**
 * Redis lost a generation: asks for the view's rebuild (signal-with-start: starts it, or tells
 * the running one, which builds again if its build was sealed before this request) unless the
 * worker is configured to fail instead (`online.onRedisLoss: fail`). Returns whether it did.
 * Materialization calls it as an activity; the feature server and the SDK's ingest call it too
 * when they are the first to notice the loss (only the start options matter, not the stores).
 */
export function requestRebuild(deps: Pick<ActivityDeps, 'onRedisLoss' | 'temporal'>) {
  return async function requestRebuild(ref: ViewRef): Promise<boolean> {
    if (deps.onRedisLoss !== 'rebuild') return false;
    await deps.temporal.client.workflow.signalWithStart<typeof rebuildOnlineWorkflow, [RebuildRequest?]>('rebuildOnlineWorkflow', {
      workflowId: workflowIds.rebuild(ref),
      taskQueue: deps.temporal.taskQueue,
      args: [{ project: ref.project, view: ref.view, version: ref.version }],
      signal: rebuildRequestedSignal,
      signalArgs: [{}],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
    return true;
  };
}
