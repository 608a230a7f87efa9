// granary-test: no-stack
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { migrationProgressQuery, rollbackMigrationSignal, type MigrateViewInput } from '../../workflows/contracts.ts';
import { migrateViewWorkflow } from '../../workflows/index.ts';
import { type ActivityScript, gate, rootCause, startTimeSkipping, stubActivities, timeLimit, type TimeSkipping, waitUntil } from '../support/time-skipping.ts';

/**
 * The migration workflow's own logic on the time-skipping test server, with stub activities: the
 * grace timer (a day by default) and the wait for pinned services, the rollback signal between
 * steps and during the grace, a resumed switched migration, a failed step. The steps themselves
 * run for real in test/pipelines/view-migration.test.ts.
 */
const DAY_MS = 24 * 3600 * 1000;
let ts: TimeSkipping;
before(async () => (ts = await startTimeSkipping()));
after(() => ts?.teardown());

let ids = 0;
const input = (over: Partial<MigrateViewInput> = {}): MigrateViewInput => ({ project: 'shop', view: `spend_${++ids}`, from: 1, to: 2, ...over });
const workflowId = (i: MigrateViewInput) => `migrate-view/${i.project}/${i.view}/v${i.from}-to-v${i.to}`;

/** A migration whose steps all succeed: 3 commits backfilled in one page, an offline-only `to`. */
function script(over: ActivityScript = {}): ActivityScript {
  return {
    beginMigration: () => ({ state: 'running', sourceCommits: 3, toOnline: false }),
    backfillMigration: () => ({ lastSeq: 3, commits: 3, rewritten: 3, rows: 30, caughtUp: true }),
    verifyMigration: () => ({ sourceCommits: 3, sourceRows: 30, migratedRows: 30, entities: 0, matching: 0, expired: 0 }),
    switchServices: () => ({ switched: ['ranker'], pinned: [] }),
    pinnedServices: () => [],
    removeOldOnlineKeys: () => 42,
    rollBackMigration: () => undefined,
    failMigration: () => undefined,
    ...over,
  };
}

test('a pinned service keeps the old keys for another grace period; once unpinned they are removed, two days passing in seconds', timeLimit, async () => {
  let pinnedLookups = 0;
  const stubs = stubActivities(script({
    switchServices: () => ({ switched: ['ranker'], pinned: ['legacy-model'] }),
    pinnedServices: () => (++pinnedLookups === 1 ? ['legacy-model'] : []),
  }));
  const i = input(); // default grace: one day
  const wall = performance.now();
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(migrateViewWorkflow, { taskQueue, workflowId: workflowId(i), args: [i] }));
  const wallMs = performance.now() - wall;

  assert.equal(result.state, 'completed');
  assert.deepEqual(result.pinnedServices, ['legacy-model']);
  assert.deepEqual(stubs.names(), ['beginMigration', 'backfillMigration', 'verifyMigration', 'switchServices', 'pinnedServices', 'pinnedServices', 'removeOldOnlineKeys']);
  const [switched] = stubs.callsOf('switchServices');
  const [firstLookup, secondLookup] = stubs.callsOf('pinnedServices');
  const [removal] = stubs.callsOf('removeOldOnlineKeys');
  // Each grace period is a full day of workflow time: the first after the switch, the second after a service was still pinned.
  assert.ok(firstLookup!.scheduledAt - switched!.scheduledAt >= DAY_MS, `first lookup ${firstLookup!.scheduledAt - switched!.scheduledAt} ms after the switch`);
  assert.ok(secondLookup!.scheduledAt - firstLookup!.scheduledAt >= DAY_MS, `second lookup ${secondLookup!.scheduledAt - firstLookup!.scheduledAt} ms after the first`);
  assert.ok(removal!.scheduledAt >= secondLookup!.scheduledAt);
  assert.ok(wallMs < 15_000, `two days of grace took ${Math.round(wallMs)} ms of wall time`);
});

test('rollback during the grace period returns services to the old version and keeps its keys, without waiting out the grace', timeLimit, async () => {
  const stubs = stubActivities(script());
  const i = input();
  const result = await ts.withWorker(stubs, async (taskQueue) => {
    const handle = await ts.client.workflow.start(migrateViewWorkflow, { taskQueue, workflowId: workflowId(i), args: [i] });
    // Time is not skipped until the test awaits the result: the workflow stays in its grace.
    await waitUntil(async () => (await handle.query(migrationProgressQuery)).state === 'grace', 'the migration is in its grace period');
    await handle.signal(rollbackMigrationSignal, 'ranker regressed');
    // Awaiting the result lets the server skip time: only once the workflow took the signal, so the
    // grace timer cannot fire first.
    await waitUntil(async () => stubs.callsOf('rollBackMigration').length === 1, 'the workflow took the signal');
    return handle.result();
  });

  assert.equal(result.state, 'rolled-back');
  assert.equal(result.message, 'ranker regressed');
  assert.deepEqual(stubs.names(), ['beginMigration', 'backfillMigration', 'verifyMigration', 'switchServices', 'rollBackMigration']);
  assert.deepEqual(stubs.callsOf('rollBackMigration')[0]!.args, [{ project: i.project, view: i.view, from: 1, to: 2, reason: 'ranker regressed' }]);
  const inGrace = stubs.callsOf('rollBackMigration')[0]!.scheduledAt - stubs.callsOf('switchServices')[0]!.scheduledAt;
  assert.ok(inGrace < DAY_MS, `rolled back ${inGrace} ms into a grace of a day`);
});

test('rollback during the backfill stops the migration before the next page: nothing verified or switched', timeLimit, async () => {
  const held = gate();
  const stubs = stubActivities(script({
    backfillMigration: async ({ after }) => {
      await held.opened;
      return { lastSeq: after + 20, commits: 20, rewritten: 20, rows: 200, caughtUp: false };
    },
  }));
  const i = input({ commitsPerActivity: 20 });
  const result = await ts.withWorker(stubs, async (taskQueue) => {
    const handle = await ts.client.workflow.start(migrateViewWorkflow, { taskQueue, workflowId: workflowId(i), args: [i] });
    await waitUntil(async () => stubs.callsOf('backfillMigration').length === 1, 'the first backfill page has started');
    await handle.signal(rollbackMigrationSignal);
    held.open();
    return handle.result();
  });

  assert.equal(result.state, 'rolled-back');
  assert.equal(result.message, undefined);
  assert.equal(result.commitsDone, 20, 'the page in flight when the signal came is counted');
  assert.deepEqual(stubs.names(), ['beginMigration', 'backfillMigration', 'rollBackMigration']);
});

test('a migration started again after its switch goes straight to the grace, then removes the old keys', timeLimit, async () => {
  const stubs = stubActivities(script({ beginMigration: () => ({ state: 'switched', sourceCommits: 3, toOnline: true }) }));
  const i = input({ graceSeconds: 3600 });
  const result = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(migrateViewWorkflow, { taskQueue, workflowId: workflowId(i), args: [i] }));

  assert.equal(result.state, 'completed');
  assert.deepEqual(stubs.names(), ['beginMigration', 'pinnedServices', 'removeOldOnlineKeys']);
  const [begin] = stubs.callsOf('beginMigration');
  assert.ok(stubs.callsOf('pinnedServices')[0]!.scheduledAt - begin!.scheduledAt >= 3600_000, 'graceSeconds is honoured');
});

test('a step that fails for good is recorded as failed and nothing is switched', timeLimit, async () => {
  const stubs = stubActivities(script({
    verifyMigration: () => {
      throw ApplicationFailure.nonRetryable('3 entities differ between v1 and v2', 'MigrationFailed');
    },
  }));
  const i = input();
  const failure = await ts.withWorker(stubs, (taskQueue) => ts.client.workflow.execute(migrateViewWorkflow, { taskQueue, workflowId: workflowId(i), args: [i] })).then(
    () => assert.fail('the migration should fail'),
    (error: unknown) => error,
  );

  assert.ok(failure instanceof WorkflowFailedError, String(failure));
  const cause = rootCause(failure);
  assert.ok(cause instanceof ApplicationFailure);
  assert.equal(cause.type, 'MigrationFailed');
  assert.equal(cause.message, '3 entities differ between v1 and v2');
  assert.deepEqual(stubs.names(), ['beginMigration', 'backfillMigration', 'verifyMigration', 'failMigration']);
  assert.equal((stubs.callsOf('failMigration')[0]!.args[0] as { message: string }).message, '3 entities differ between v1 and v2');
});
