// granary-test: no-stack
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { workflowIds, type VerifyInput } from '../../workflows/contracts.ts';
import { verifyOnlineWorkflow } from '../../workflows/index.ts';
import type { VerifyReport } from '../../pipelines/verify-view.ts';
import { type ActivityScript, startTimeSkipping, stubActivities, timeLimit, type TimeSkipping } from '../support/time-skipping.ts';

/**
 * The partitioned verify workflow (`granary verify`) on the time-skipping test server, with stub
 * activities: its order (plan, scatter each slice to the verify scratch, verify each partition
 * from its runs, report, drop the scratch), and that the scratch is dropped when a step fails
 * for good. Real verifies: test/pipelines/online-verify.test.ts.
 */
let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

let ids = 0;
const input = (over: Partial<VerifyInput> = {}): VerifyInput => ({ project: 'shop', view: `spend_${++ids}`, version: 1, partitions: 3, parallelism: 2, ...over });

function script(over: ActivityScript = {}): ActivityScript {
  return {
    planVerify: () => ({ generation: 4, upTo: 9, slices: [{ after: 0, upTo: 5, rows: 30 }, { after: 5, upTo: 9, rows: 20 }], rowsCommitted: 50 }),
    scatterSlice: ({ slice, partitions }) => ({ slice, rowsRead: 25, refused: slice, entities: 9, runs: new Array<number>(partitions).fill(slice + 1) }),
    verifyPartition: ({ partition }) => ({ partition, watermark: 9, offlineEntities: 5, matching: 5, expired: 0, ahead: 0, missing: 0, stale: 0, present: 5, refused: 0, examples: [] }),
    reportVerify: ({ project, view, version, generation, reports, refused }) =>
      ({ project, view, version, generation, watermark: 9, latestSeq: 9, offlineEntities: 15, onlineEntities: 15, matching: reports.reduce((n, r) => n + r.matching, 0), expired: 0, ahead: 0, missing: 0, stale: 0, extra: 0, refused, examples: [], ok: true }) satisfies VerifyReport,
    dropRebuildRuns: () => 6,
    ...over,
  };
}

test('plans, scatters every slice to the verify scratch, verifies every partition from its runs, reports, then drops the scratch', timeLimit, async () => {
  const stubs = stubActivities(script());
  const i = input();
  const report = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(verifyOnlineWorkflow, { taskQueue, workflowId: workflowIds.verify(i), args: [i] }));
  assert.deepEqual([report.ok, report.matching, report.refused, report.generation], [true, 15, 1, 4]);
  const names = stubs.names();
  assert.equal(names[0], 'planVerify');
  assert.deepEqual(names.slice(-2), ['reportVerify', 'dropRebuildRuns']);
  const scatters = stubs.callsOf('scatterSlice').map((c) => c.args[0] as { slice: number; after: number; upTo: number; scratch: string; generation: number });
  assert.deepEqual(scatters.map((s) => [s.slice, s.after, s.upTo, s.scratch, s.generation]).sort(), [[0, 0, 5, 'verify', 4], [1, 5, 9, 'verify', 4]]);
  const verifies = stubs.callsOf('verifyPartition').map((c) => c.args[0] as { partition: number; runs: number[]; upTo: number; scratch: string });
  assert.deepEqual(verifies.map((v) => [v.partition, v.runs, v.upTo, v.scratch]).sort(), [[0, [1, 2], 9, 'verify'], [1, [1, 2], 9, 'verify'], [2, [1, 2], 9, 'verify']]);
  assert.ok(names.lastIndexOf('scatterSlice') < names.indexOf('verifyPartition'), 'every slice is scattered before any partition is verified');
  assert.deepEqual(stubs.callsOf('dropRebuildRuns').map((c) => c.args[0]), [{ project: 'shop', view: i.view, version: 1, generation: 4, scratch: 'verify' }]);
});

test('a partition failing for good fails the verify, and its scratch is still dropped', timeLimit, async () => {
  const stubs = stubActivities(
    script({
      verifyPartition: () => {
        throw ApplicationFailure.nonRetryable('the view was removed', 'UnknownFeatureView');
      },
    }),
  );
  const i = input();
  await assert.rejects(ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(verifyOnlineWorkflow, { taskQueue, workflowId: workflowIds.verify(i), args: [i] })));
  assert.equal(stubs.names().at(-1), 'dropRebuildRuns');
  assert.equal(stubs.callsOf('reportVerify').length, 0);
});
