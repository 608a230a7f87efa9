// granary-test: no-stack
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { rebuildRequestedSignal, workflowIds, type RebuildInput, type RetireInput } from '../../workflows/contracts.ts';
import { rebuildOnlineWorkflow, retireGenerationWorkflow } from '../../workflows/index.ts';
import { type ActivityScript, gate, rootCause, startTimeSkipping, stubActivities, timeLimit, type TimeSkipping } from '../support/time-skipping.ts';
import { writeHistoryFile } from '../support/workflow-history.ts';

/**
 * The rebuild workflow's own logic on the time-skipping test server, with stub activities: its
 * read-once build (the `read-once-rebuild` side: planRebuild, scatterSlice per slice,
 * buildPartition per partition, verifyPartition per partition, finishVerify, dropRebuildRuns), its cap of restarts after Redis loses the
 * generation being built, the retire workflow's grace timer, and requests that come before and
 * after the build is sealed, also when the build then diverges (the `rebuild-after-late-request`
 * patch; GRANARY_RECORD_HISTORIES=1 saves that run as a replay history in
 * test/pipelines/histories/). Real rebuilds: test/pipelines/online-rebuild.test.ts; older runs'
 * replay: test/pipelines/rebuild-replay.test.ts.
 */
const REPLAY_HISTORIES = join(import.meta.dirname, '..', 'pipelines', 'histories');

let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

/**
 * A rebuild that cuts over starts the retire workflow as an abandoned child; on the Java test
 * server that leaves time skipping locked for every later test (a known bug:
 * temporalio/sdk-typescript#1101), so such a test gets a server of its own.
 */
async function onOwnServer<T>(fn: (own: TimeSkipping) => Promise<T>): Promise<T> {
  const own = await startTimeSkipping();
  try {
    return await fn(own);
  } finally {
    await own.teardown();
  }
}

let ids = 0;
const input = (over: Partial<RebuildInput> = {}): RebuildInput => ({ project: 'shop', view: `spend_${++ids}`, version: 1, partitions: 2, parallelism: 1, ...over });

/**
 * A rebuild of generation 5 (4 serving) whose steps all succeed, no commit landing meanwhile: the
 * read-once build (the `read-once-rebuild` side) plans one slice of the 10 commits, scatters it
 * into one run per partition, builds each partition from its run, verifies each partition, then
 * finishes the verify and drops the runs.
 */
function script(over: ActivityScript = {}): ActivityScript {
  return {
    beginRebuild: () => ({ generation: 5, previousGeneration: 4, upTo: 10 }),
    planRebuild: ({ upTo }) => ({ slices: [{ after: 0, upTo, rows: 40 }], rowsCommitted: 40 }),
    scatterSlice: ({ slice, partitions }) => ({ slice, rowsRead: 40, refused: 0, entities: 10 * partitions, runs: new Array<number>(partitions).fill(1) }),
    buildPartition: ({ partition }) => ({ partition, entities: 10, rowsRead: 10, written: 10, skipped: 0, expired: 0, resumedAt: 0 }),
    dropRebuildRuns: () => 2,
    markRebuiltUpTo: () => 10,
    pendingCommits: () => ({ seqs: [], latestSeq: 10, activeGeneration: 5 }),
    verifyGeneration: () => ({ watermark: 10, matching: 20, expired: 0, ahead: 0 }),
    verifyPartition: ({ partition }) => ({ partition, watermark: 10, offlineEntities: 10, matching: 10, expired: 0, ahead: 0, missing: 0, stale: 0, present: 10, refused: 0, examples: [] }),
    finishVerify: ({ reports }) => ({ watermark: 10, matching: reports.reduce((n, r) => n + r.matching, 0), expired: 0, ahead: 0 }),
    cutOver: () => undefined,
    dropRetiredGenerations: () => 123,
    ...over,
  };
}

/** What the online store's write throws when the generation's marker is gone (buildPartition is the build's step that writes Redis). */
const lost = () => {
  throw ApplicationFailure.nonRetryable('the marker of generation 5 is gone', 'RedisDataLost');
};

test('Redis losing the generation being built restarts the build at most 3 times, then the rebuild fails with RedisDataLost', timeLimit, async () => {
  const stubs = stubActivities(script({ buildPartition: lost }));
  const i = input();
  const failure = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(i), args: [i] })).then(
    () => assert.fail('the rebuild should fail'),
    (error: unknown) => error,
  );

  assert.ok(failure instanceof WorkflowFailedError, String(failure));
  assert.equal((rootCause(failure) as ApplicationFailure).type, 'RedisDataLost');
  // The first run and three restarts, each carrying its count over continue-as-new.
  assert.deepEqual(stubs.callsOf('beginRebuild').map((c) => (c.args[0] as RebuildInput).restarts), [undefined, 1, 2, 3]);
  assert.equal(stubs.callsOf('cutOver').length, 0);
  // Each run lost its build before dropping the scratch (the next run's planRebuild starts over; offline GC collects the runs).
  assert.equal(stubs.callsOf('dropRebuildRuns').length, 0);
});

test('the read-once build: each slice scattered once, each partition built from its runs of every slice in slice order, the runs dropped after the last partition', timeLimit, () =>
  onOwnServer(async (own) => {
    const i = input({ partitions: 3, parallelism: 2 });
    // Runs per partition of each slice (runs[p] files for partition p), all different so that a mix-up shows.
    const scattered = [[1, 0, 2], [0, 1, 1], [3, 2, 0]];
    // Slice 0 finishes after slice 1 (two lanes): its runs still go first.
    const slice1Done = gate();
    const stubs = stubActivities(script({
      planRebuild: () => ({ slices: [{ after: 0, upTo: 4, rows: 30 }, { after: 4, upTo: 7, rows: 20 }, { after: 7, upTo: 10, rows: 10 }], rowsCommitted: 60 }),
      scatterSlice: async ({ slice }) => {
        if (slice === 0) await slice1Done.opened;
        if (slice === 1) slice1Done.open();
        return { slice, rowsRead: [30, 20, 10][slice]!, refused: slice === 2 ? 1 : 0, entities: 5, runs: scattered[slice]! };
      },
    }));
    const result = await own.withWorker(stubs, (taskQueue) => own.client.workflow.execute(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(i), args: [i] }));

    assert.equal(result.state, 'done');
    const scope = { project: i.project, view: i.view, version: 1, generation: 5 };
    assert.deepEqual(stubs.callsOf('planRebuild').map((c) => c.args[0]), [{ ...i, ...scope, upTo: 10, snapshots: true }]);
    assert.deepEqual(
      stubs.callsOf('scatterSlice').map((c) => c.args[0]).sort((a, b) => (a as { slice: number }).slice - (b as { slice: number }).slice),
      [{ ...i, ...scope, slice: 0, after: 0, upTo: 4 }, { ...i, ...scope, slice: 1, after: 4, upTo: 7 }, { ...i, ...scope, slice: 2, after: 7, upTo: 10 }],
    );
    const builds = stubs.callsOf('buildPartition').map((c) => c.args[0] as { partition: number; partitions: number; runs: number[] });
    assert.deepEqual(builds.map((b) => [b.partition, b.partitions, b.runs]).sort((a, b) => (a[0] as number) - (b[0] as number)), [
      [0, 3, [1, 0, 3]],
      [1, 3, [0, 1, 2]],
      [2, 3, [2, 1, 0]],
    ]);
    // Each partition is verified from the same runs, after the catch-up.
    const verifies = stubs.callsOf('verifyPartition').map((c) => c.args[0] as { partition: number; runs: number[]; upTo: number });
    assert.deepEqual(verifies.map((v) => [v.partition, v.runs, v.upTo]).sort((a, b) => (a[0] as number) - (b[0] as number)), [
      [0, [1, 0, 3], 10],
      [1, [0, 1, 2], 10],
      [2, [2, 1, 0], 10],
    ]);
    assert.deepEqual((stubs.callsOf('finishVerify')[0]!.args[0] as { reports: { partition: number }[] }).reports.map((r) => r.partition), [0, 1, 2]);
    // Every slice is scattered before any partition is built; the runs are dropped once, after the verify, before the cut-over.
    const names = stubs.names();
    assert.ok(names.lastIndexOf('scatterSlice') < names.indexOf('buildPartition'));
    assert.ok(names.indexOf('pendingCommits') < names.indexOf('verifyPartition'));
    assert.deepEqual(stubs.callsOf('dropRebuildRuns').map((c) => c.args[0]), [{ ...i, ...scope }]);
    assert.equal(names.indexOf('dropRebuildRuns'), names.indexOf('finishVerify') + 1);
    assert.equal(names[names.indexOf('dropRebuildRuns') + 1], 'cutOver');
    assert.equal(stubs.callsOf('verifyGeneration').length, 0);
    assert.equal(stubs.callsOf('rebuildPartition').length, 0);
    // Rows read come from the scatters (each committed row once), entities from the builds.
    assert.deepEqual(
      { rowsCommitted: result.rowsCommitted, rowsRead: result.rowsRead, rowsRefused: result.rowsRefused, slices: result.slices, slicesDone: result.slicesDone, partitionsDone: result.partitionsDone, entitiesWritten: result.entitiesWritten },
      { rowsCommitted: 60, rowsRead: 60, rowsRefused: 1, slices: 3, slicesDone: 3, partitionsDone: 3, entitiesWritten: 30 },
    );
  }));

test('a plan from a snapshot: its partition count taken, each build and verify partition handed its snapshot runs next to the slices after it', timeLimit, () =>
  onOwnServer(async (own) => {
    const i = input({ partitions: undefined, parallelism: 2 });
    const snapshot = { seq: 6, prefix: 'shop/_snapshots/x/v1/seq6-of3/', runs: [2, 0, 1] };
    const stubs = stubActivities(script({
      planRebuild: () => ({ slices: [{ after: 6, upTo: 10, rows: 8 }], rowsCommitted: 48, partitions: 3, snapshot }),
      scatterSlice: ({ slice }) => ({ slice, rowsRead: 8, refused: 0, entities: 8, runs: [1, 1, 0] }),
    }));
    const result = await own.withWorker(stubs, (taskQueue) => own.client.workflow.execute(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(i), args: [i] }));

    assert.equal(result.state, 'done');
    assert.equal(result.partitions, 3, "the snapshot's partitions");
    assert.equal(result.snapshotSeq, 6);
    assert.equal(result.rowsRead, 8, 'committed rows read: those after the snapshot');
    assert.equal(result.rowsCommitted, 48);
    const handed = (name: 'buildPartition' | 'verifyPartition') =>
      stubs
        .callsOf(name)
        .map((c) => c.args[0] as { partition: number; runs: number[]; snapshot?: unknown })
        .map((a) => [a.partition, a.runs, a.snapshot])
        .sort((a, b) => (a[0] as number) - (b[0] as number));
    const expected = [
      [0, [1], { seq: 6, prefix: snapshot.prefix, runs: 2 }],
      [1, [1], { seq: 6, prefix: snapshot.prefix, runs: 0 }],
      [2, [0], { seq: 6, prefix: snapshot.prefix, runs: 1 }],
    ];
    assert.deepEqual(handed('buildPartition'), expected);
    assert.deepEqual(handed('verifyPartition'), expected);
  }));

test('after one loss the build starts over and cuts over; the retire workflow drops the old generation once its grace has passed', timeLimit, async () => {
  let partitionCalls = 0;
  const base = script();
  const stubs = stubActivities({ ...base, buildPartition: (p) => (++partitionCalls === 1 ? lost() : base.buildPartition!(p)) });
  const i = input({ retireAfterSeconds: 600 });
  const { result, retired, wallMs } = await onOwnServer((own) => {
    const wall = performance.now();
    return own.withWorker(stubs, async (taskQueue) => {
      const result = await own.client.workflow.execute(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(i), args: [i] });
      // The retire workflow outlives the rebuild (ParentClosePolicy.ABANDON): wait for it on its own.
      const retired = await own.client.workflow.getHandle<typeof retireGenerationWorkflow>(result.retire!.workflowId).result();
      return { result, retired, wallMs: performance.now() - wall };
    });
  });

  assert.equal(result.state, 'done');
  assert.deepEqual(result.retire, { workflowId: workflowIds.retire(i, 4), generation: 4, afterSeconds: 600 });
  assert.equal(result.partitionsDone, 2);
  assert.deepEqual(retired, { generation: 4, keysDropped: 123 });
  assert.deepEqual(stubs.names(), [
    'beginRebuild', 'planRebuild', 'scatterSlice', 'buildPartition', // lost: continue as new
    'beginRebuild', 'planRebuild', 'scatterSlice', 'buildPartition', 'buildPartition',
    'markRebuiltUpTo', 'pendingCommits', 'verifyPartition', 'verifyPartition', 'finishVerify', 'dropRebuildRuns', 'cutOver', 'pendingCommits',
    'dropRetiredGenerations',
  ]);
  const [drop] = stubs.callsOf('dropRetiredGenerations');
  assert.deepEqual(drop!.args, [{ project: i.project, view: i.view, version: 1, upToGeneration: 4 }]);
  const grace = drop!.scheduledAt - stubs.callsOf('cutOver')[0]!.scheduledAt;
  assert.ok(grace >= 600_000, `the old generation was dropped ${grace} ms after the cut-over`);
  assert.ok(wallMs < 15_000, `took ${Math.round(wallMs)} ms of wall time`);
});

test('the retire workflow waits its grace (an hour here) before dropping the keys, in seconds of wall time', timeLimit, async () => {
  const stubs = stubActivities({ dropRetiredGenerations: () => 7 });
  const retire: RetireInput = { project: 'shop', view: `spend_${++ids}`, version: 1, generation: 3, retireAfterSeconds: 3600 };
  const started = await ts.env.currentTimeMs();
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(retireGenerationWorkflow, { taskQueue, workflowId: workflowIds.retire(retire, 3), args: [retire] }));

  assert.deepEqual(result, { generation: 3, keysDropped: 7 });
  assert.ok(stubs.callsOf('dropRetiredGenerations')[0]!.scheduledAt - started >= 3600_000);
});

test('a request before the build is sealed is served by that build; one after it gets a new build with its tuning', timeLimit, () =>
  onOwnServer(async (own) => {
    // Before: the request arrives while a partition is built.
    const early = input();
    const signalled = stubActivities(script({
      buildPartition: async ({ partition }) => {
        if (partition === 0) await own.client.workflow.getHandle(workflowIds.rebuild(early)).signal(rebuildRequestedSignal, { partitions: 3 });
        return { partition, entities: 1, rowsRead: 1, written: 1, skipped: 0, expired: 0, resumedAt: 0 };
      },
    }));
    const served = await own.withWorker(signalled, (taskQueue) => own.client.workflow.execute(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(early), args: [early] }));
    assert.equal(served.rebuildFollows, undefined);
    assert.equal(signalled.callsOf('beginRebuild').length, 1);

    // After: the request arrives while the build is marked written (sealed).
    const late = input();
    let builds = 0;
    const requestedLate = stubActivities(script({
      beginRebuild: () => (++builds === 1 ? { generation: 5, previousGeneration: 4, upTo: 10 } : { generation: 6, previousGeneration: 5, upTo: 12 }),
      markRebuiltUpTo: async ({ upTo }) => {
        if (builds === 1) await own.client.workflow.getHandle(workflowIds.rebuild(late)).signal(rebuildRequestedSignal, { partitions: 3 });
        return upTo;
      },
      pendingCommits: ({ generation }) => ({ seqs: [], latestSeq: 12, activeGeneration: generation }),
    }));
    const rebuilt = await own.withWorker(requestedLate, (taskQueue) => own.client.workflow.execute(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(late), args: [late] }));

    // The caller following the chain gets the second build: generation 6, three partitions.
    assert.equal(rebuilt.generation, 6);
    assert.equal(rebuilt.partitions, 3);
    assert.deepEqual(requestedLate.callsOf('cutOver').map((c) => (c.args[0] as { generation: number }).generation), [5, 6]);
    assert.equal((requestedLate.callsOf('beginRebuild')[1]!.args[0] as RebuildInput).partitions, 3);
  }));

test('a build found diverged after a late request builds again for that request (the rebuild-after-late-request patch)', timeLimit, () =>
  onOwnServer(async (own) => {
    const i = input();
    const stubs = stubActivities(divergedAfterLateRequest(own, i));
    const { result, firstRun } = await own.withWorker(stubs, async (taskQueue) => {
      const handle = await own.client.workflow.start(rebuildOnlineWorkflow, { taskQueue, workflowId: workflowIds.rebuild(i), args: [i] });
      const result = await handle.result();
      return { result, firstRun: await own.client.workflow.getHandle(workflowIds.rebuild(i), handle.firstExecutionRunId).fetchHistory() };
    });

    assert.equal(result.state, 'done');
    assert.equal(result.generation, 6);
    assert.deepEqual(stubs.callsOf('finishVerify').map((c) => (c.args[0] as { generation: number }).generation), [5, 6]);
    // Generation 5 was never cut over; the second build used the request's tuning.
    assert.deepEqual(stubs.callsOf('cutOver').map((c) => (c.args[0] as { generation: number }).generation), [6]);
    assert.equal((stubs.callsOf('beginRebuild')[1]!.args[0] as RebuildInput).partitions, 3);
    const markers = (firstRun.events ?? []).flatMap((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? []);
    assert.ok(markers.some((p) => Buffer.from(p.data ?? []).toString().includes('"rebuild-after-late-request"')), 'the first run took the patched branch');
    // The replay test's history of this path (test/pipelines/rebuild-replay.test.ts) is this run's.
    if (process.env.GRANARY_RECORD_HISTORIES === '1') await writeHistoryFile(join(REPLAY_HISTORIES, 'rebuild-online-v2-diverged-late-request.json'), firstRun);
  }));

/** A rebuild whose first build (generation 5) gets a request once sealed and is then found diverged by verify; the second (generation 6) succeeds. */
function divergedAfterLateRequest(own: TimeSkipping, i: RebuildInput): ActivityScript {
  let builds = 0;
  return script({
    beginRebuild: () => (++builds === 1 ? { generation: 5, previousGeneration: 4, upTo: 10 } : { generation: 6, previousGeneration: 4, upTo: 10 }),
    markRebuiltUpTo: async ({ upTo }) => {
      if (builds === 1) await own.client.workflow.getHandle(workflowIds.rebuild(i)).signal(rebuildRequestedSignal, { partitions: 3 });
      return upTo;
    },
    pendingCommits: ({ generation }) => ({ seqs: [], latestSeq: 10, activeGeneration: generation }),
    finishVerify: ({ generation }) => {
      if (generation === 5) throw ApplicationFailure.nonRetryable('rebuilt generation 5 disagrees with the offline store (1 stale)', 'RebuildDiverged');
      return { watermark: 10, matching: 20, expired: 0, ahead: 0 };
    },
  });
}
