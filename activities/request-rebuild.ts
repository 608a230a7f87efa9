import type { rebuildOnlineWorkflow } from '../workflows/rebuild-online-workflow.ts';
import type { RebuildRequest, ViewRef } from '../workflows/contracts.ts';
import { rebuildStart, workflowTypes } from '../workflows/starters.ts';
import type { ActivityDeps } from './activity-deps.ts';

/**
 * Redis lost a generation: asks for the view's rebuild (signal-with-start: starts it, or tells
 * the running one, which builds again if its build was sealed before this request) unless the
 * worker is configured to fail instead (`online.onRedisLoss: fail`). Returns whether it did.
 * Materialization calls it as an activity; the feature server and the SDK's ingest start the same
 * run (workflows/starters.ts rebuildStart) when they are the first to notice the loss.
 */
export function requestRebuild(deps: Pick<ActivityDeps, 'onRedisLoss' | 'temporal'>) {
  return async function requestRebuild(ref: ViewRef): Promise<boolean> {
    if (deps.onRedisLoss !== 'rebuild') return false;
    await deps.temporal.client.workflow.signalWithStart<typeof rebuildOnlineWorkflow, [RebuildRequest?]>(workflowTypes.rebuild, rebuildStart(ref, deps.temporal.taskQueue));
    return true;
  };
}
