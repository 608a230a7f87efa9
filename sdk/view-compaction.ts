import type { Client } from '@temporalio/client';
import type { CompactInput, CompactResult, ViewRef } from '../workflows/contracts.ts';
import type { compactViewWorkflow } from '../workflows/compact-view-workflow.ts';
import { compactStart, workflowTypes } from '../workflows/starters.ts';
import { partitionedViewInput } from './online-verify.ts';

export type CompactOptions = Pick<CompactInput, 'partitions' | 'parallelism'>;

/**
 * Compacts each view version into a latest-value snapshot with the compaction workflow
 * (`compact-view/<project>/<view>/v<version>`, workflows/compact-view-workflow.ts), joining one
 * already running; resolves with each result. A rebuild with the snapshot's partition count (or
 * none asked) then reads the snapshot and only the commits after it.
 *
 * @example
 *   await compactViews(client, 'granary', [{ project: 'fraud', view: 'user_spend_features', version: 1 }], { partitions: 8 });
 *   // => [{ seq: 40, partitions: 8, baseSeq: 0, entities: 2_000_000, rowsRead: 10_000_000, rowsCommitted: 10_000_000, upToDate: false }]
 */
export async function compactViews(client: Client, taskQueue: string, refs: readonly ViewRef[], options: CompactOptions = {}): Promise<CompactResult[]> {
  return Promise.all(
    refs.map(async (ref) => {
      const input: CompactInput = partitionedViewInput(ref, options);
      const handle = await client.workflow.start<typeof compactViewWorkflow>(workflowTypes.compact, compactStart(input, taskQueue));
      return handle.result();
    }),
  );
}
