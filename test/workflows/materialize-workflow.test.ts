// granary-test: no-stack
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { commitsAvailableSignal, type ViewRef } from '../../workflows/contracts.ts';
import { materializeWorkflow } from '../../workflows/index.ts';
import { type ActivityScript, rootCause, startTimeSkipping, stubActivities, timeLimit, type TimeSkipping } from '../support/time-skipping.ts';

/**
 * The materialize workflow's own logic on the time-skipping test server, with stub activities
 * standing for a registry of `latest` commits and a Redis watermark: continue-as-new after its
 * cap of commits per run, a cut-over seen mid-run, a request during its last wait (the
 * `recheck-redis-on-request` patch), a Redis loss. Real applies: test/pipelines/ingest-materialize.test.ts.
 */
let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

let ids = 0;
const view = (): ViewRef => ({ project: 'shop', view: `spend_${++ids}`, version: 1 });
const workflowId = (ref: ViewRef) => `materialize/${ref.project}/${ref.view}/v${ref.version}`;

/** A view with `latest` commits on generation `generation`: pendingCommits pages through them, applyCommit moves the watermark. */
function commitLog(latest: number, generation = 1, over: ActivityScript = {}): ActivityScript {
  let watermark = 0;
  return {
    prepareMaterialization: () => ({ generation, watermark, latestSeq: latest }),
    pendingCommits: ({ after, limit }) => ({
      seqs: Array.from({ length: Math.max(0, Math.min(limit, latest - after)) }, (_, k) => after + 1 + k),
      latestSeq: latest,
      activeGeneration: generation,
    }),
    applyCommit: ({ seq }) => {
      watermark = seq;
      return { watermark: seq, written: 2, skipped: 1 };
    },
    ...over,
  };
}

test('after 200 commits in one run it continues as new, carrying its progress, and applies every commit once in order', timeLimit, async () => {
  const stubs = stubActivities(commitLog(250));
  const ref = view();
  const { result, firstRun } = await ts.withWorker(stubs, async (taskQueue) => {
    const handle = await ts.client.workflow.start(materializeWorkflow, { taskQueue, workflowId: workflowId(ref), args: [ref] });
    const result = await handle.result();
    return { result, firstRun: await ts.client.workflow.getHandle(workflowId(ref), handle.firstExecutionRunId).describe() };
  });

  assert.deepEqual(result, { generation: 1, watermark: 250, target: 250, commitsApplied: 250, rowsWritten: 500, rowsSkipped: 250, state: 'done' });
  assert.deepEqual(stubs.callsOf('applyCommit').map((c) => (c.args[0] as { seq: number }).seq), Array.from({ length: 250 }, (_, k) => k + 1));
  assert.equal(firstRun.status.name, 'CONTINUED_AS_NEW');
  // One prepare per run: two runs (200 commits, then 50).
  assert.equal(stubs.callsOf('prepareMaterialization').length, 2);
});

test('a cut-over seen by a lookup (another active generation) continues as new on the new generation before applying anything', timeLimit, async () => {
  let generation = 1;
  const base = commitLog(3, 2);
  const stubs = stubActivities({
    ...base,
    prepareMaterialization: () => ({ generation: generation++, watermark: 0, latestSeq: 3 }),
  });
  const ref = view();
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(materializeWorkflow, { taskQueue, workflowId: workflowId(ref), args: [ref] }));

  assert.equal(result.generation, 2);
  assert.equal(result.watermark, 3);
  assert.deepEqual(stubs.names().slice(0, 3), ['prepareMaterialization', 'pendingCommits', 'prepareMaterialization']);
  assert.deepEqual(stubs.callsOf('applyCommit').map((c) => (c.args[0] as { generation: number }).generation), [2, 2, 2]);
});

test('a request during the run makes it check Redis again before finishing: a rolled-back watermark is applied again', timeLimit, async () => {
  const ref = view();
  let prepares = 0;
  let lookups = 0;
  const log = commitLog(2);
  const stubs = stubActivities({
    ...log,
    // The recheck finds Redis holding only commit 1 (restored from an older snapshot).
    prepareMaterialization: () => ({ generation: 1, watermark: ++prepares === 1 ? 0 : 1, latestSeq: 2 }),
    pendingCommits: async (input) => {
      // Ingestion announces a commit while the run looks up what is left (after its last apply).
      if (++lookups === 2) await ts.client.workflow.getHandle(workflowId(ref)).signal(commitsAvailableSignal);
      return log.pendingCommits!(input);
    },
  });
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(materializeWorkflow, { taskQueue, workflowId: workflowId(ref), args: [ref] }));

  assert.equal(result.state, 'done');
  assert.equal(stubs.callsOf('prepareMaterialization').length, 2, 'the signal made it prepare again');
  assert.deepEqual(stubs.callsOf('applyCommit').map((c) => (c.args[0] as { seq: number }).seq), [1, 2, 2]);
});

test('Redis lost the generation: it asks for a rebuild and ends rebuild-requested; with rebuilds turned off it fails', timeLimit, async () => {
  const lost = () => {
    throw ApplicationFailure.nonRetryable('the marker of generation 1 is gone', 'RedisDataLost');
  };
  const asked = stubActivities({ prepareMaterialization: lost, requestRebuild: () => true });
  const ref = view();
  const result = await ts.withWorker(asked, (taskQueue) => ts.client.workflow.execute(materializeWorkflow, { taskQueue, workflowId: workflowId(ref), args: [ref] }));
  assert.equal(result.state, 'rebuild-requested');
  assert.deepEqual(asked.names(), ['prepareMaterialization', 'requestRebuild']);

  const refused = stubActivities({ prepareMaterialization: lost, requestRebuild: () => false });
  const other = view();
  const failure = await ts.withWorker(refused, (taskQueue) => ts.client.workflow.execute(materializeWorkflow, { taskQueue, workflowId: workflowId(other), args: [other] })).then(
    () => assert.fail('the materialization should fail'),
    (error: unknown) => error,
  );
  assert.ok(failure instanceof WorkflowFailedError);
  assert.equal((rootCause(failure) as ApplicationFailure).type, 'RedisDataLost');
});
