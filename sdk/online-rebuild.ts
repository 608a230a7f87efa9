import type { Client } from '@temporalio/client';
import {
  rebuildProgressQuery,
  workflowIds,
  type RebuildRequest,
  type RebuildProgress,
  type ViewRef,
} from '../workflows/contracts.ts';
import type { rebuildOnlineWorkflow, retireGenerationWorkflow } from '../workflows/rebuild-online-workflow.ts';
import { rebuildStart, workflowTypes } from '../workflows/starters.ts';
import { whilePolling } from './progress-poller.ts';

export interface RebuildOnlineOptions extends RebuildRequest {
  /** Wait for the rebuild to finish (after the cut-over and the drop of the old generation). */
  readonly wait?: boolean;
  /** Called with each view's progress about twice a second while waiting. */
  readonly onProgress?: (ref: ViewRef, progress: RebuildProgress) => void;
}

export interface RebuildHandle {
  readonly ref: ViewRef;
  readonly workflowId: string;
  /** The progress when the call returned: the result when waited for. */
  readonly progress: RebuildProgress;
}

/**
 * Asks for each view's rebuild: starts its rebuild workflow, or tells the running one (its id is
 * `rebuild-online/<project>/<view>/v<version>`, so two operators never start two), and
 * optionally waits for it. Invariant 8: the build that answers started after the request. A run
 * still building serves it; a run past its build (verifying, cutting over) builds again
 * afterwards, and the wait follows it to that build; the retire grace belongs to a workflow of its
 * own (`retire-online/...`), so a request during it starts a new rebuild. With `wait`, the result
 * names the generation built and comes once the old generation's keys are dropped.
 *
 * @example
 *   await rebuildOnline(client, 'granary', [{ project: 'fraud', view: 'user_spend_features', version: 1 }], { wait: true });
 *   // => [{ ref, workflowId: 'rebuild-online/fraud/user_spend_features/v1', progress: { state: 'done', generation: 2, ... } }]
 */
export async function rebuildOnline(
  client: Client,
  taskQueue: string,
  refs: readonly ViewRef[],
  options: RebuildOnlineOptions = {},
): Promise<RebuildHandle[]> {
  const request: RebuildRequest = {
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    ...(options.retireAfterSeconds === undefined ? {} : { retireAfterSeconds: options.retireAfterSeconds }),
  };
  return Promise.all(
    refs.map(async (ref) => {
      const workflowId = workflowIds.rebuild(ref);
      const handle = await client.workflow.signalWithStart<typeof rebuildOnlineWorkflow, [RebuildRequest?]>(workflowTypes.rebuild, rebuildStart(ref, taskQueue, request));
      if (!options.wait) return { ref, workflowId, progress: await handle.query(rebuildProgressQuery) };
      const report = options.onProgress && ((p: RebuildProgress) => options.onProgress!(ref, p));
      // The result of the run that received the request, or of the runs it continued as.
      let progress = await whilePolling(client, handle, rebuildProgressQuery, report, handle.result());
      if (progress.retire) {
        report?.({ ...progress, state: 'retiring' });
        await client.workflow.getHandle<typeof retireGenerationWorkflow>(progress.retire.workflowId).result();
        progress = { ...progress, state: 'done' };
      }
      report?.(progress);
      return { ref, workflowId, progress };
    }),
  );
}
