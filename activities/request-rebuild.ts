import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { rebuildOnlineWorkflow } from '../workflows/rebuild-online-workflow.ts';
import { workflowIds, type ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';

/**
 * Redis lost a generation: starts the view's rebuild (or attaches to the one running) unless the
 * worker is configured to fail instead (`online.onRedisLoss: fail`). Returns whether it did.
 * Materialization calls it as an activity; the feature server and the SDK's ingest call it too
 * when they are the first to notice the loss (only the start options matter, not the stores).
 */
export function requestRebuild(deps: Pick<ActivityDeps, 'onRedisLoss' | 'temporal'>) {
  return async function requestRebuild(ref: ViewRef): Promise<boolean> {
    if (deps.onRedisLoss !== 'rebuild') return false;
    await deps.temporal.client.workflow.start<typeof rebuildOnlineWorkflow>('rebuildOnlineWorkflow', {
      workflowId: workflowIds.rebuild(ref),
      taskQueue: deps.temporal.taskQueue,
      args: [{ project: ref.project, view: ref.view, version: ref.version }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
    return true;
  };
}
