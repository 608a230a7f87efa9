import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { eventDateOf, objectKey } from '../../stores/offline/object-key.ts';
import { eventTimeRange } from '../../pipelines/row-conversion.ts';
import { connectClient } from '../../workers/temporal-connection.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { sleep } from '../../scripts/worker-process.ts';

/**
 * `granary schedule ...` through the CLI (a child process), against the stack's Temporal: one
 * schedule of driver_stats, created, updated, paused, resumed, triggered and deleted in turn.
 */
const fixture = await pipelineFixture('schedule');
const { store, registry, ref, env } = fixture;
const scheduleId = workflowIds.schedule(ref);
const cli = (...args: string[]) => granary(args, { project: ref.project, env });
// A client of its own, so the schedule is deleted (even after a failure) before it is closed.
const client = await connectClient(fixture.config.temporal);
after(async () => {
  await client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
  await client.connection.close();
});

interface Listed {
  scheduleId: string;
  paused: boolean;
  note: string;
  spec: string;
}

async function listed(): Promise<Listed[]> {
  const list = await cli('schedule', 'list', '--json');
  assert.equal(list.code, 0, list.stderr);
  return JSON.parse(list.stdout) as Listed[];
}

/** Schedules are listed from Temporal's visibility store, which follows writes with a delay. */
async function listedEventually(accept: (list: Listed[]) => boolean): Promise<Listed[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const list = await listed();
    if (accept(list) || Date.now() > deadline) return list;
    await sleep(500);
  }
}

test('create, then create again: the second updates the schedule instead of failing', async () => {
  const first = await cli('schedule', 'create', 'driver_stats', '--every', '1h');
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^created the materialization schedule of driver_stats v1 \(every 1h\)/);
  const second = await cli('schedule', 'create', 'driver_stats', '--every', '2h', '--catchup-window', '10m');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^updated the materialization schedule of driver_stats v1 \(every 2h\)/);

  const described = await client.schedule.getHandle(scheduleId).describe();
  assert.deepEqual(described.spec.intervals?.map((i) => i.every), [2 * 3_600_000]);
  assert.equal(described.policies.catchupWindow, 10 * 60_000);
  // Never two materializations of one view at once.
  assert.ok(
    ([ScheduleOverlapPolicy.SKIP, ScheduleOverlapPolicy.BUFFER_ONE] as ScheduleOverlapPolicy[]).includes(described.policies.overlap),
    `overlap policy ${described.policies.overlap}`,
  );
  assert.equal(described.action.type, 'startWorkflow');
  assert.equal(described.action.workflowType, 'scheduledMaterializeWorkflow');
  assert.equal(described.action.taskQueue, fixture.config.temporal.taskQueue);
});

test('list shows the schedule; pause and resume change its state', async () => {
  const active = await listedEventually((l) => l.length === 1);
  assert.deepEqual(
    active.map((s) => [s.scheduleId, s.spec, s.paused]),
    [[scheduleId, 'every 2h', false]],
  );
  const handle = client.schedule.getHandle(scheduleId);

  const pause = await cli('schedule', 'pause', 'driver_stats');
  assert.equal(pause.code, 0, pause.stderr);
  assert.match(pause.stdout, /paused the materialization schedule of driver_stats v1/);
  assert.equal((await handle.describe()).state.paused, true);
  const table = await cli('schedule', 'list');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^SCHEDULE\s+SPEC\s+STATE\s+NEXT RUN\s+LAST RUN\n/);
  assert.match(table.stdout, new RegExp(`${scheduleId}\\s+every 2h\\s+paused \\(paused with granary schedule pause\\)`));

  const resume = await cli('schedule', 'resume', 'driver_stats');
  assert.equal(resume.code, 0, resume.stderr);
  assert.equal((await handle.describe()).state.paused, false);
});

test('trigger runs a materialization that brings committed rows online', async () => {
  await fixture.startWorker();
  // Rows committed offline but not materialized (as after a crash before any Redis write).
  const view = await store.view('driver_stats');
  const table = toViewTable(view, driverRows(400, { entities: 100 }));
  const range = eventTimeRange(view, table);
  const key = objectKey({ ...ref, eventDate: eventDateOf(range.min), batchId: 'scheduled-1' });
  const info = await store.stores.offline.writeTable(key, table);
  const { commit } = await registry.commit({
    view: ref.view,
    version: ref.version,
    batchId: 'scheduled-1',
    schemaVersion: 1,
    objects: [{ ...info, minEventTime: new Date(range.min), maxEventTime: new Date(range.max) }],
  });
  const [before] = await store.verifyInProcess(['driver_stats']);
  assert.deepEqual([before!.latestSeq, before!.watermark, before!.onlineEntities], [commit.seq, 0, 0], 'committed, not online yet');

  const trigger = await cli('schedule', 'trigger', 'driver_stats');
  assert.equal(trigger.code, 0, trigger.stderr);
  const handle = client.schedule.getHandle(scheduleId);
  const deadline = Date.now() + 20_000;
  let runs = (await handle.describe()).info.recentActions;
  while (runs.length === 0 && Date.now() < deadline) {
    await sleep(200);
    runs = (await handle.describe()).info.recentActions;
  }
  assert.equal(runs.length, 1, 'the trigger started one run');
  const result = await client.workflow.getHandle(runs[0]!.action.workflow.workflowId).result();
  assert.deepEqual(result, { materialized: true, seq: commit.seq });

  const verify = await cli('verify', 'driver_stats', '--json');
  assert.equal(verify.code, 0, verify.stdout);
  const [report] = JSON.parse(verify.stdout) as { ok: boolean; watermark: number; matching: number; ahead: number }[];
  assert.deepEqual([report!.ok, report!.watermark, report!.matching, report!.ahead], [true, commit.seq, 100, 0]);
});

test('delete removes it; acting on it afterwards is a clear error', async () => {
  const removed = await cli('schedule', 'delete', 'driver_stats');
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /deleted the materialization schedule of driver_stats v1/);
  await assert.rejects(client.schedule.getHandle(scheduleId).describe(), ScheduleNotFoundError);
  assert.deepEqual(await listedEventually((l) => l.length === 0), []);

  const again = await cli('schedule', 'pause', 'driver_stats');
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `error: no materialization schedule for feature view 'driver_stats' version 1 in project '${ref.project}'\n`);
});

test('bad input: exit 1 with one line naming the view or the option, and no schedule', async () => {
  const cases: [string[], RegExp][] = [
    [['create', 'no_such_view', '--every', '1h'], /^error: feature view 'no_such_view' is not applied in project/],
    [['create', 'driver_stats', '--every', 'soon'], /^error: schedule for feature view 'driver_stats': --every must be a duration such as 15m or 1h, got 'soon'/],
    [['create', 'driver_stats'], /^error: schedule for feature view 'driver_stats': give exactly one of --every .* or --cron/],
    [['create', 'driver_stats', '--every', '1h', '--cron', '0 * * * *'], /^error: schedule for feature view 'driver_stats': give exactly one of/],
    [['create', 'driver_stats', '--cron', 'hourly'], /^error: schedule for feature view 'driver_stats': --cron 'hourly' is not a valid cron expression: /],
    [['create', 'driver_stats', '--every', '1h', '--catchup-window', 'soon'], /^error: schedule for feature view 'driver_stats': --catchup-window must be a duration such as 10m or 1h, got 'soon'/],
  ];
  const results = await Promise.all(cases.map(([args]) => cli('schedule', ...args)));
  for (const [i, [args, message]] of cases.entries()) {
    const result = results[i]!;
    assert.equal(result.code, 1, `schedule ${args.join(' ')}: ${result.stdout}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, message);
  }
  await assert.rejects(client.schedule.getHandle(scheduleId).describe(), ScheduleNotFoundError);
});
