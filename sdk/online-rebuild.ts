import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import {
  rebuildProgressQuery,
  workflowIds,
  type RebuildInput,
  type RebuildProgress,
  type ViewRef,
} from '../workflows/contracts.ts';
import type { rebuildOnlineWorkflow } from '../workflows/rebuild-online-workflow.ts';

export interface RebuildOnlineOptions extends Pick<RebuildInput, 'partitions' | 'parallelism' | 'retireAfterSeconds'> {
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
 * Starts each view's rebuild workflow, or attaches to the one running (its id is
 * `rebuild-online/<project>/<view>/v<version>`, so two operators never start two), and
 * optionally waits for it.
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
  const tuning = {
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    ...(options.retireAfterSeconds === undefined ? {} : { retireAfterSeconds: options.retireAfterSeconds }),
  };
  return Promise.all(
    refs.map(async (ref) => {
      const workflowId = workflowIds.rebuild(ref);
      const handle = await client.workflow.start<typeof rebuildOnlineWorkflow>('rebuildOnlineWorkflow', {
        workflowId,
        taskQueue,
        args: [{ ...ref, ...tuning }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      if (!options.wait) return { ref, workflowId, progress: await handle.query(rebuildProgressQuery) };
      const timer = options.onProgress
        ? setInterval(() => {
            handle.query(rebuildProgressQuery).then((p) => options.onProgress?.(ref, p), () => undefined);
          }, 500)
        : undefined;
      try {
        const progress = await handle.result();
        options.onProgress?.(ref, progress);
        return { ref, workflowId, progress };
      } finally {
        clearInterval(timer);
      }
    }),
  );
}
