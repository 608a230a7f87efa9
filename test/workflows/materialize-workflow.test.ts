// granary-test: no-stack
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { commitsAvailableSignal, type ViewRef } from '../../workflows/contracts.ts';
import { materializeWorkflow } from '../../workflows/index.ts';
import { type ActivityScript, rootCause, startTimeSkipping, type StubActivities, stubActivities, timeLimit, type TimeSkipping } from '../support/time-skipping.ts';

/**
 * The materialize workflow's own logic on the time-skipping test server, with stub activities
 * standing for a registry of `latest` commits and a Redis watermark: continue-as-new after its
 * cap of commits per run, a cut-over seen mid-run, a request during its last wait (the
 * `recheck-redis-on-request` patch), a Redis loss. New runs take the `apply-commit-batches` side:
 * a lookup's pending commits go to applyCommits, called again for the rest while it applies only
 * a prefix of them. Real applies: test/pipelines/ingest-materialize.test.ts.
 */
let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

let ids = 0;
const view = (): ViewRef => ({ project: 'shop', view: `spend_${++ids}`, version: 1 });
const workflowId = (ref: ViewRef) => `materialize/${ref.project}/${ref.view}/v${ref.version}`;

/**
 * A view with `latest` commits on generation `generation`: pendingCommits pages through them,
 * applyCommits applies at most `perCall` of the seqs it is given (a prefix, as the real one does
 * when the commits hold more rows than one call reads) and moves the watermark to the last.
 */
function commitLog(latest: number, generation = 1, over: ActivityScript = {}, perCall = Infinity): ActivityScript {
  let watermark = 0;
  return {
    prepareMaterialization: () => ({ generation, watermark, latestSeq: latest }),
    pendingCommits: ({ after, limit }) => ({
      seqs: Array.from({ length: Math.max(0, Math.min(limit, latest - after)) }, (_, k) => after + 1 + k),
      latestSeq: latest,
      activeGeneration: generation,
    }),
    applyCommits: ({ seqs }) => {
      const commits = Math.min(perCall, seqs.length);
      watermark = seqs[commits - 1]!;
      return { watermark, appliedUpTo: watermark, commits, rowsRead: 3 * commits, written: 2 * commits, skipped: commits, refused: 0 };
    },
    ...over,
  };
}

interface ApplyCommitsArgs {
  readonly generation: number;
  readonly seqs: readonly number[];
  readonly after: number;
}

/** The applyCommits calls' inputs. */
const applyCalls = (stubs: StubActivities) => stubs.callsOf('applyCommits').map((c) => c.args[0] as ApplyCommitsArgs);

/** The seqs applied, in order, when each call applies the first `perCall` seqs it is given. */
const appliedSeqs = (stubs: StubActivities, perCall = Infinity) => applyCalls(stubs).flatMap((a) => a.seqs.slice(0, perCall));

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

test('after 200 commits in one run it continues as new, carrying its progress, and applies every commit once in order', timeLimit, async () => {
  const stubs = stubActivities(commitLog(250));
  const ref = view();
  const { result, firstRun } = await ts.withWorker(stubs, async (taskQueue) => {
    const handle = await ts.client.workflow.start(materializeWorkflow, { taskQueue, workflowId: workflowId(ref), args: [ref] });
    const result = await handle.result();
    return { result, firstRun: await ts.client.workflow.getHandle(workflowId(ref), handle.firstExecutionRunId).describe() };
  });

  assert.deepEqual(result, { generation: 1, watermark: 250, target: 250, commitsApplied: 250, rowsWritten: 500, rowsSkipped: 250, rowsRefused: 0, state: 'done' });
  // One applyCommits call per lookup of 50 commits, each from where the last one left off.
  assert.deepEqual(applyCalls(stubs).map((a) => [a.after, a.seqs[0], a.seqs.at(-1)]), [[0, 1, 50], [50, 51, 100], [100, 101, 150], [150, 151, 200], [200, 201, 250]]);
  assert.deepEqual(appliedSeqs(stubs), range(1, 250));
  assert.equal(firstRun.status.name, 'CONTINUED_AS_NEW');
  // One prepare per run: two runs (200 commits, then 50), the second starting after commit 200.
  assert.deepEqual(stubs.names().filter((n) => n !== 'pendingCommits'), [
    'prepareMaterialization', 'applyCommits', 'applyCommits', 'applyCommits', 'applyCommits',
    'prepareMaterialization', 'applyCommits',
  ]);
});

test('applyCommits applying only a prefix of the pending commits is called again for the rest; commits count per result toward the 200 per run', timeLimit, async () => {
  const stubs = stubActivities(commitLog(250, 1, {}, 3));
  const ref = view();
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(materializeWorkflow, { taskQueue, workflowId: workflowId(ref), args: [ref] }));

  assert.equal(result.commitsApplied, 250);
  assert.equal(result.watermark, 250);
  assert.equal(result.rowsWritten, 500);
  const calls = applyCalls(stubs);
  // Each lookup of 50 takes 17 calls (16 of 3, then 2); every call is given what is left of its lookup, after the last commit applied.
  assert.equal(calls.length, 5 * 17);
  assert.deepEqual(calls.slice(0, 3), [
    { project: ref.project, view: ref.view, version: 1, generation: 1, seqs: range(1, 50), after: 0 },
    { project: ref.project, view: ref.view, version: 1, generation: 1, seqs: range(4, 50), after: 3 },
    { project: ref.project, view: ref.view, version: 1, generation: 1, seqs: range(7, 50), after: 6 },
  ]);
  assert.deepEqual(calls[16]!.seqs, [49, 50]);
  assert.deepEqual(appliedSeqs(stubs, 3), range(1, 250), 'every commit applied once, in order');
  // The cap is checked once a lookup's commits are all applied: the run continued as new after the call that reached commit 200.
  const names = stubs.names();
  const secondRun = names.lastIndexOf('prepareMaterialization');
  assert.equal(names.slice(0, secondRun).filter((n) => n === 'applyCommits').length, 4 * 17);
  assert.deepEqual(calls[4 * 17 - 1]!.seqs, [199, 200]);
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
  assert.deepEqual(applyCalls(stubs).map((a) => [a.generation, a.seqs]), [[2, [1, 2, 3]]]);
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
  // Commits 1 and 2 in one call; after the recheck, commit 2 again from watermark 1.
  assert.deepEqual(applyCalls(stubs).map((a) => [a.after, a.seqs]), [[0, [1, 2]], [1, [2]]]);
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
