// granary-test: no-stack
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { workflowIds, type ViewRef } from '../../workflows/contracts.ts';
import { scheduledMaterializeWorkflow } from '../../workflows/index.ts';
import { rootCause, startTimeSkipping, stubActivities, timeLimit, type TimeSkipping } from '../support/time-skipping.ts';

/**
 * A schedule's run on the time-skipping test server, with stub activities: it hands the latest
 * commit to the view's materialization at once (the `request-materialization-first` side), then
 * polls until the watermark reaches it, 200 ms later and backing off 0.4 s, 0.8 s, ... up to 5 s
 * (workflows/materialize-up-to.ts, which ingestion and migrations use too), asking again whenever
 * no materialization runs. Real schedules: test/pipelines/schedule.test.ts.
 */
let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

let ids = 0;
const view = (): ViewRef => ({ project: 'shop', view: `spend_${++ids}`, version: 1 });

test('it polls with a doubling delay, asking for a materialization whenever none runs, until the watermark reaches the latest commit', timeLimit, async () => {
  // Not running, running, running, not running (it finished without reaching 7: a commit came after), reached.
  const states = [
    { reached: false, running: false },
    { reached: false, running: true },
    { reached: false, running: true },
    { reached: false, running: false },
    { reached: true, running: false },
  ];
  const stubs = stubActivities({ latestCommitSeq: () => 7, materializationState: () => states.shift()!, requestMaterialization: () => undefined });
  const ref = view();
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(scheduledMaterializeWorkflow, { taskQueue, workflowId: workflowIds.scheduledMaterialize(ref), args: [ref] }));

  assert.deepEqual(result, { materialized: true, seq: 7 });
  assert.deepEqual(stubs.names(), [
    'latestCommitSeq', 'requestMaterialization',
    'materializationState', 'requestMaterialization',
    'materializationState',
    'materializationState',
    'materializationState', 'requestMaterialization',
    'materializationState',
  ]);
  assert.deepEqual(stubs.callsOf('materializationState').map((c) => c.args), Array.from({ length: 5 }, () => [ref, 7]));
  const polls = stubs.callsOf('materializationState').map((c) => c.scheduledAt);
  const gaps = polls.slice(1).map((t, k) => t - polls[k]!);
  // The first look 200 ms after the request; the delays between polls: 0.2 s, 0.4 s, 0.8 s, 1.6 s (each gap also holds the activities around it).
  const first = polls[0]! - stubs.callsOf('requestMaterialization')[0]!.scheduledAt;
  assert.ok(first >= 200 && first < 1200, `first poll ${first} ms after the request`);
  for (const [k, delay] of [200, 400, 800, 1600].entries()) assert.ok(gaps[k]! >= delay && gaps[k]! < delay + 1000, `gap ${k}: ${gaps[k]} ms, expected about ${delay}`);
});

test('the delay between polls stops growing at 5 s', timeLimit, async () => {
  let polls = 0;
  const stubs = stubActivities({ latestCommitSeq: () => 3, requestMaterialization: () => undefined, materializationState: () => ({ reached: ++polls === 9, running: true }) });
  const ref = view();
  await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(scheduledMaterializeWorkflow, { taskQueue, workflowId: workflowIds.scheduledMaterialize(ref), args: [ref] }));

  const times = stubs.callsOf('materializationState').map((c) => c.scheduledAt);
  const gaps = times.slice(1).map((t, k) => t - times[k]!);
  // 0.2, 0.4, 0.8, 1.6, 3.2 s, then 5 s each.
  assert.equal(gaps.length, 8);
  for (const gap of gaps.slice(5)) assert.ok(gap >= 5000 && gap < 6000, `gaps: ${gaps.join(', ')}`);
});

test('a view without commits is materialized at once; a materialization that failed for good fails the run with its reason', timeLimit, async () => {
  const empty = stubActivities({ latestCommitSeq: () => 0 });
  const ref = view();
  const result = await ts.withWorker(empty, (taskQueue) => ts.client.workflow.execute(scheduledMaterializeWorkflow, { taskQueue, workflowId: workflowIds.scheduledMaterialize(ref), args: [ref] }));
  assert.deepEqual(result, { materialized: true, seq: 0 });
  assert.deepEqual(empty.names(), ['latestCommitSeq']);

  const failed = stubActivities({ latestCommitSeq: () => 4, requestMaterialization: () => undefined, materializationState: () => ({ reached: false, running: false, failure: 'Redis lost generation 2' }) });
  const other = view();
  const failure = await ts.withWorker(failed, (taskQueue) => ts.client.workflow.execute(scheduledMaterializeWorkflow, { taskQueue, workflowId: workflowIds.scheduledMaterialize(other), args: [other] })).then(
    () => assert.fail('the run should fail'),
    (error: unknown) => error,
  );
  assert.ok(failure instanceof WorkflowFailedError);
  assert.equal(rootCause(failure)?.message, `materialization of ${other.view} v1 failed: Redis lost generation 2`);
  assert.deepEqual(failed.names(), ['latestCommitSeq', 'requestMaterialization', 'materializationState'], 'no second request, no wait after a permanent failure');
});
