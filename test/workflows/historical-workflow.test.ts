// granary-test: no-stack
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { workflowIds, type HistoricalInput } from '../../workflows/contracts.ts';
import { historicalWorkflow } from '../../workflows/index.ts';
import { type ActivityScript, startTimeSkipping, stubActivities, timeLimit, type TimeSkipping } from '../support/time-skipping.ts';

/**
 * The distributed training-set workflow (`granary historical --distributed`) on the
 * time-skipping test server, with stub activities: its order (plan, every partition joined, at
 * most `parallelism` at once, merge, scratch dropped), and the scratch dropped when a step fails
 * for good. Real runs across worker processes: test/retrieval/distributed-historical.test.ts.
 */
let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

let ids = 0;
const input = (over: Partial<HistoricalInput> = {}): HistoricalInput => ({
  project: 'shop',
  id: `run${++ids}`,
  request: { entitiesKey: 'shop/_historical-runs/x/input/entities.parquet', featureService: 'model' },
  parallelism: 2,
  memoryLimit: '1GB',
  ...over,
});

function script(over: ActivityScript = {}): ActivityScript {
  let running = 0;
  let most = 0;
  return {
    planHistorical: () => ({ partitions: 5, rows: 1000, featureRows: 4000 }),
    joinHistoricalPartition: async ({ partition }) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      return 200 + partition;
    },
    mergeHistorical: ({ id }) => ({ rows: 1000, bytes: 12345, columns: ['user_id', 'event_timestamp', 'spend', String(most)], resultKey: `shop/_historical-results/${id}.parquet` }),
    dropHistoricalRun: () => 17,
    ...over,
  };
}

test('plans, joins every partition (at most parallelism at once), merges, then drops the scratch', timeLimit, async () => {
  const stubs = stubActivities(script());
  const i = input();
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(historicalWorkflow, { taskQueue, workflowId: workflowIds.historical(i), args: [i] }));
  assert.equal(workflowIds.historical(i), `historical/shop/${i.id}`);
  assert.deepEqual([result.rows, result.partitions, result.resultKey], [1000, 5, `shop/_historical-results/${i.id}.parquet`]);
  assert.ok(Number(result.columns.at(-1)) <= 2, `at most 2 partitions at once, saw ${result.columns.at(-1)}`);
  const names = stubs.names();
  assert.equal(names[0], 'planHistorical');
  assert.deepEqual(names.slice(-2), ['mergeHistorical', 'dropHistoricalRun']);
  assert.deepEqual(stubs.callsOf('planHistorical').map((c) => c.args[0]), [i]);
  const joins = stubs.callsOf('joinHistoricalPartition').map((c) => c.args[0] as { project: string; id: string; partition: number; memoryLimit: string });
  assert.deepEqual(joins.map((j) => j.partition).sort(), [0, 1, 2, 3, 4]);
  assert.ok(joins.every((j) => j.id === i.id && j.project === 'shop' && j.memoryLimit === '1GB'));
  assert.deepEqual(stubs.callsOf('dropHistoricalRun').map((c) => c.args[0]), [{ project: 'shop', id: i.id }]);
});

test('a partition failing for good fails the run: no partition starts after it, none is in flight when the scratch is dropped, no merge', timeLimit, async () => {
  const stubs = stubActivities(
    script({
      joinHistoricalPartition: async ({ partition }) => {
        if (partition === 1) throw ApplicationFailure.nonRetryable('the view was removed', 'UnknownFeatureView');
        await new Promise((resolve) => setTimeout(resolve, 300)); // partition 0 still running when 1 fails
        return 1;
      },
    }),
  );
  const i = input();
  await assert.rejects(ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(historicalWorkflow, { taskQueue, workflowId: workflowIds.historical(i), args: [i] })));
  assert.equal(stubs.names().at(-1), 'dropHistoricalRun');
  assert.deepEqual(stubs.callsOf('joinHistoricalPartition').map((c) => (c.args[0] as { partition: number }).partition).sort(), [0, 1], 'no partition started after the failure');
  assert.equal(stubs.callsOf('mergeHistorical').length, 0);
});
