import type { Command } from 'commander';
import type { MaterializationSchedules } from '../../sdk/materialization-schedules.ts';
import type { FeatureStore } from '../../sdk/feature-store.ts';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { printJson, printLines } from '../output.ts';
import { scheduleTable } from '../schedule-table.ts';

/**
 * `granary schedule create|list|pause|resume|trigger|delete`: materialization on Temporal
 * Schedules (overlap: skip, so two runs of a view never overlap; catch-up after an outage).
 */
export function registerScheduleCommand(program: Command): void {
  const schedule = program.command('schedule').description('materialize feature views on a schedule (Temporal Schedules)');

  schedule
    .command('create')
    .description('create the schedule of a view, or update it when it exists')
    .argument('<view>', 'the feature view')
    .option('--every <duration>', 'an interval, e.g. 15m or 1h')
    .option('--cron <expression>', "a cron expression, e.g. '0 * * * *'")
    .option('--catchup-window <duration>', 'how far back missed runs are caught up', '1h')
    .action(
      commandAction(async (view: string, opts: { every?: string; cron?: string; catchupWindow: string }, command: Command) => {
        await withSchedules(command, async (schedules, store) => {
          const ref = await refOf(store, view);
          const outcome = await schedules.upsert(ref, {
            ...(opts.every ? { every: opts.every } : {}),
            ...(opts.cron ? { cron: opts.cron } : {}),
            catchupWindow: opts.catchupWindow,
          });
          printLines(`${outcome} the materialization schedule of ${view} v${ref.version} (${opts.every ? `every ${opts.every}` : opts.cron}).`);
        });
      }),
    );

  schedule
    .command('list')
    .description("the project's materialization schedules")
    .action(
      commandAction(async (_opts: object, command: Command) => {
        await withSchedules(command, async (schedules, store) => {
          const list = await schedules.list(store.project);
          if (globalOptions(command).json) return printJson(list);
          if (list.length === 0) return printLines(`No schedules in project '${store.project}'.`);
          printLines(scheduleTable(list));
        });
      }),
    );

  const simple: [string, string, (s: MaterializationSchedules, ref: Awaited<ReturnType<typeof refOf>>) => Promise<void>, string][] = [
    ['pause', 'pause the schedule of a view', (s, ref) => s.pause(ref), 'paused'],
    ['resume', 'resume the schedule of a view', (s, ref) => s.resume(ref), 'resumed'],
    ['trigger', 'run the schedule of a view now (skipped if a run is going)', (s, ref) => s.trigger(ref), 'triggered'],
    ['delete', 'delete the schedule of a view', (s, ref) => s.delete(ref), 'deleted'],
  ];
  for (const [name, description, act, done] of simple) {
    schedule
      .command(name)
      .description(description)
      .argument('<view>', 'the feature view')
      .action(
        commandAction(async (view: string, _opts: object, command: Command) => {
          await withSchedules(command, async (schedules, store) => {
            const ref = await refOf(store, view);
            await act(schedules, ref);
            printLines(`${done} the materialization schedule of ${view} v${ref.version}.`);
          });
        }),
      );
  }
}

async function withSchedules(command: Command, fn: (schedules: MaterializationSchedules, store: FeatureStore) => Promise<void>): Promise<void> {
  const { MaterializationSchedules } = await import('../../sdk/materialization-schedules.ts');
  await withFeatureStore(globalOptions(command), async (store) => {
    await fn(new MaterializationSchedules(await store.temporal(), store.config.temporal.taskQueue), store);
  });
}

async function refOf(store: FeatureStore, name: string) {
  const view = await store.view(name);
  return { project: store.project, view: view.name, version: view.version };
}
