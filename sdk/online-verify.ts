import type { Client } from '@temporalio/client';
import type { VerifyReport } from '../pipelines/verify-view.ts';
import { verifyProgressQuery, type VerifyInput, type VerifyProgress, type ViewRef } from '../workflows/contracts.ts';
import type { verifyOnlineWorkflow } from '../workflows/verify-online-workflow.ts';
import { verifyStart, workflowTypes } from '../workflows/starters.ts';
import { whilePolling } from './progress-poller.ts';

export interface VerifyOnlineOptions extends Pick<VerifyInput, 'partitions' | 'parallelism'> {
  /** Called with each view's progress about twice a second. */
  readonly onProgress?: (ref: ViewRef, progress: VerifyProgress) => void;
}

/**
 * Verifies each view's active online generation against the offline store with the partitioned
 * verify workflow (`verify-online/<project>/<view>/v<version>`, workflows/verify-online-workflow.ts):
 * any worker takes its slices and partitions, memory is one partition's, and a worker killed
 * mid-verify is resumed. A verify already running for a view is joined. Resolves with the reports.
 *
 * @example
 *   await verifyOnline(client, 'granary', [{ project: 'fraud', view: 'user_spend_features', version: 1 }], { partitions: 8 });
 *   // => [{ view: 'user_spend_features', generation: 1, matching: 2_000_000, missing: 0, stale: 0, extra: 0, ok: true, ... }]
 */
export async function verifyOnline(client: Client, taskQueue: string, refs: readonly ViewRef[], options: VerifyOnlineOptions = {}): Promise<VerifyReport[]> {
  return Promise.all(
    refs.map(async (ref) => {
      const input: VerifyInput = partitionedViewInput(ref, options);
      const handle = await client.workflow.start<typeof verifyOnlineWorkflow>(workflowTypes.verify, verifyStart(input, taskQueue));
      const report = options.onProgress && ((p: VerifyProgress) => options.onProgress!(ref, p));
      return whilePolling(client, handle, verifyProgressQuery, report, handle.result());
    }),
  );
}

/**
 * A partitioned workflow's input for one view version (verify, compact): the view's reference
 * and the partitions and parallelism asked for, absent when not asked (the workflow's defaults).
 *
 * @example
 *   partitionedViewInput({ project: 'fraud', view: 'user_spend', version: 1 }, { partitions: 8 })
 *   // => { project: 'fraud', view: 'user_spend', version: 1, partitions: 8 }
 */
export function partitionedViewInput(ref: ViewRef, options: { readonly partitions?: number; readonly parallelism?: number }): ViewRef & { partitions?: number; parallelism?: number } {
  return {
    project: ref.project,
    view: ref.view,
    version: ref.version,
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
  };
}
