import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { connectClient } from '../../workers/temporal-connection.ts';
import { workflowIds, type CompactInput } from '../../workflows/contracts.ts';
import { testConfig } from '../support/test-config.ts';
import { granary, makeRepo } from './cli-fixtures.ts';

/**
 * `granary compact --every` against the real stack: creates a view's compaction schedule on
 * Temporal with that interval, updates it (interval and partitions) when run again, refuses an
 * unknown view or a bad duration naming it (no schedule made); `--list` shows it, and
 * `--unschedule` deletes it.
 */
const { config, env } = testConfig('cli_compact_schedule');
const project = config.project;
const ref = { project, view: 'user_spend', version: 1 };
let repo: Awaited<ReturnType<typeof makeRepo>>;
let client: Client;

const run = (...args: string[]) => granary([...args, '--repo', repo.dir], { project, env });

before(async () => {
  repo = await makeRepo();
  const apply = await run('apply');
  assert.equal(apply.code, 0, apply.stderr);
  client = await connectClient(config.temporal);
});

after(async () => {
  await client.schedule
    .getHandle(workflowIds.compactSchedule(ref))
    .delete()
    .catch(() => undefined);
  await client.connection.close();
  await repo.remove();
});

/** `compact --list --json` until `accept` takes it (schedules are listed from Temporal's visibility store, which follows writes with a delay). */
async function listedEventually(accept: (list: { scheduleId: string; spec: string; paused: boolean }[]) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const listed = await run('compact', '--list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { scheduleId: string; spec: string; paused: boolean }[];
    if (accept(list) || Date.now() > deadline) return list;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The schedule's interval (ms, as described) and the compaction input its action starts. */
async function described(): Promise<{ everyMs: unknown; input: CompactInput; taskQueue: string }> {
  const d = await client.schedule.getHandle(workflowIds.compactSchedule(ref)).describe();
  assert.equal(d.action.type, 'startWorkflow');
  return { everyMs: d.spec.intervals?.[0]?.every, input: d.action.args?.[0] as CompactInput, taskQueue: d.action.taskQueue };
}

test('compact --every: creates the schedule, then updates its interval and partitions; --list shows it; --unschedule deletes it', async () => {
  const created = await run('compact', 'user_spend', '--every', '1h');
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout.trim(), `created the compaction schedule of user_spend v1: every 1h (compact-schedule/${project}/user_spend/v1).`);
  const first = await described();
  assert.equal(first.everyMs, 3_600_000);
  assert.deepEqual([first.input.view, first.input.version, first.input.partitions], ['user_spend', 1, undefined]);
  assert.equal(first.taskQueue, env.GRANARY_TASK_QUEUE);
  const listed = await listedEventually((l) => l.length > 0);
  assert.deepEqual(
    listed.map((l) => [l.scheduleId, l.spec, l.paused]),
    [[workflowIds.compactSchedule(ref), 'every 1h', false]],
  );

  // No view named: every online view (here the one), as `granary compact` does.
  const updated = await run('compact', '--every', '90m', '--partitions', '4', '--json');
  assert.equal(updated.code, 0, updated.stderr);
  assert.deepEqual(JSON.parse(updated.stdout), [
    { view: 'user_spend', version: 1, scheduleId: workflowIds.compactSchedule(ref), outcome: 'updated', every: '90m' },
  ]);
  const second = await described();
  assert.equal(second.everyMs, 5_400_000);
  assert.equal(second.input.partitions, 4);
  const table = await run('compact', '--list');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`^compact-schedule/${project}/user_spend/v1 +every 1h30m +active `, 'm'));

  const deleted = await run('compact', 'user_spend', '--unschedule');
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleted the compaction schedule of user_spend v1/);
  await assert.rejects(described(), ScheduleNotFoundError);
  assert.deepEqual(await listedEventually((l) => l.length === 0), []);
  const none = await run('compact', '--list');
  assert.equal(none.stdout.trim(), `No compaction schedules in project '${project}'.`);
  const again = await run('compact', 'user_spend', '--unschedule');
  assert.equal(again.code, 1);
  assert.match(again.stderr, new RegExp(`no compaction schedule for feature view 'user_spend' version 1 in project '${project}'`));
});

test('compact --every: an unknown view or a bad duration is refused naming it, and no schedule is made', async () => {
  const unknown = await run('compact', 'user_spend', 'no_such_view', '--every', '1h');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /feature view 'no_such_view' is not applied/);
  await assert.rejects(described(), ScheduleNotFoundError, 'user_spend, named first, got no schedule either');

  const badDuration = await run('compact', 'user_spend', '--every', 'soon');
  assert.equal(badDuration.code, 1);
  assert.match(badDuration.stderr, /compaction schedule for feature view 'user_spend': every must be a duration such as 6h, got 'soon'/);
  await assert.rejects(described(), ScheduleNotFoundError);

  const both = await run('compact', 'user_spend', '--every', '1h', '--unschedule');
  assert.equal(both.code, 1);
  assert.match(both.stderr, /not both/);
  const unnamed = await run('compact', '--unschedule');
  assert.equal(unnamed.code, 1);
  assert.match(unnamed.stderr, /name the feature views/);
  const listWithView = await run('compact', 'user_spend', '--list');
  assert.equal(listWithView.code, 1);
  assert.match(listWithView.stderr, /compact --list: takes no views/);
});
