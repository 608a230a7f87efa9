import type { Command } from 'commander';
import type { FeatureStore } from '../../sdk/feature-store.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { positiveInt } from '../option-parsers.ts';
import { formatTable, printJson, printLines } from '../output.ts';
import { scheduleTable } from '../schedule-table.ts';

interface CompactCommandOptions {
  readonly partitions?: number;
  readonly parallelism?: number;
  readonly every?: string;
  readonly unschedule?: boolean;
  readonly list?: boolean;
}

/**
 * `granary compact [VIEW...]`: compacts each view version into a latest-value snapshot (the
 * workflow `compact-view/<project>/<view>/v<version>` on the workers), from its newest snapshot
 * plus the commits since. A later `rebuild-online` with the same partitions (or none asked) reads
 * the snapshot and only the commits after it.
 *
 * With `--every 6h`, compacts on a Temporal Schedule instead (`compact-schedule/<project>/<view>/v<version>`,
 * sdk/compaction-schedule.ts): creates each view's schedule, or updates it with the new interval,
 * partitions and parallelism; `--unschedule VIEW...` deletes them. This lives here rather than under
 * `granary schedule`, whose subcommands act on materialization schedules (`--cron`,
 * `--catchup-window`, pause/resume/trigger): a compaction schedule takes compact's own views and
 * options, and nothing else. `--list` shows the project's compaction schedules.
 *
 * @example
 *   granary compact user_spend --every 6h --partitions 8
 *   // created the compaction schedule of user_spend v1: every 6h (compact-schedule/fraud/user_spend/v1).
 */
export function registerCompactCommand(program: Command): void {
  program
    .command('compact')
    .description('compact views into latest-value snapshots, so that a rebuild reads one row per entity plus the commits since')
    .argument('[views...]', 'feature views to compact (default: all online views)')
    .option('--partitions <n>', "entity-hash partitions: the rebuild's (default: the last snapshot's, or sized from the rows committed)", positiveInt)
    .option('--parallelism <n>', 'slices and partitions compacted at once (default 2)', positiveInt)
    .option('--every <duration>', 'compact on a Temporal Schedule every <duration> (e.g. 6h) instead of now: creates the schedule of each view, or updates it')
    .option('--unschedule', 'delete the compaction schedules of the views named')
    .option('--list', "list the project's compaction schedules")
    .action(
      commandAction(async (views: string[], opts: CompactCommandOptions, command: Command) => {
        const options = globalOptions(command);
        if (opts.list) {
          if (views.length || opts.every !== undefined || opts.unschedule) throw new Error('compact --list: takes no views, --every nor --unschedule');
          return withFeatureStore(options, async (store) => {
            const list = await store.compactionSchedules();
            if (options.json) return printJson(list);
            printLines(list.length ? scheduleTable(list) : `No compaction schedules in project '${store.project}'.`);
          });
        }
        if (opts.every !== undefined || opts.unschedule) {
          return withFeatureStore(options, async (store) => {
            const outcomes = await manageSchedules(store, views, opts);
            if (options.json) return printJson(outcomes);
            printLines(
              outcomes.map((o) =>
                o.outcome === 'deleted'
                  ? `deleted the compaction schedule of ${o.view} v${o.version} (${o.scheduleId}).`
                  : `${o.outcome} the compaction schedule of ${o.view} v${o.version}: every ${o.every} (${o.scheduleId}).`,
              ),
            );
          });
        }
        const results = await withFeatureStore(options, (store) =>
          store.compact(views, {
            ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
            ...(opts.parallelism === undefined ? {} : { parallelism: opts.parallelism }),
          }),
        );
        if (options.json) return printJson(results);
        printLines(
          formatTable(
            ['VIEW', 'SEQ', 'FROM', 'PARTITIONS', 'ENTITIES', 'ROWS READ', 'ROWS COMMITTED', 'RESULT'],
            results.map((r) => [
              `${r.view} v${r.version}`,
              String(r.seq),
              String(r.baseSeq),
              String(r.partitions),
              String(r.entities),
              String(r.rowsRead),
              String(r.rowsCommitted),
              r.upToDate ? 'up to date' : 'compacted',
            ]),
          ),
        );
      }),
    );
}

interface ScheduleOutcome {
  readonly view: string;
  readonly version: number;
  readonly scheduleId: string;
  readonly outcome: 'created' | 'updated' | 'deleted';
  readonly every?: string;
}

/**
 * Creates, updates or deletes the compaction schedules of the views (with --every, all online
 * views when none are named). Every view is looked up before any schedule changes, so an unknown
 * one changes nothing.
 */
async function manageSchedules(store: FeatureStore, names: readonly string[], opts: CompactCommandOptions): Promise<ScheduleOutcome[]> {
  if (opts.every !== undefined && opts.unschedule) throw new Error('compact: give --every (create or update the schedules) or --unschedule (delete them), not both');
  if (opts.unschedule && names.length === 0) throw new Error('compact --unschedule: name the feature views whose compaction schedules to delete');
  const views = names.length ? await Promise.all(names.map((n) => store.view(n))) : await store.onlineViews();
  const outcomes: ScheduleOutcome[] = [];
  for (const view of views) {
    const ref = { view: view.name, version: view.version, scheduleId: workflowIds.compactSchedule({ project: store.project, view: view.name, version: view.version }) };
    if (opts.unschedule) {
      await store.unscheduleCompaction(view.name, { version: view.version });
      outcomes.push({ ...ref, outcome: 'deleted' });
      continue;
    }
    const outcome = await store.scheduleCompaction(view.name, {
      every: opts.every!,
      version: view.version,
      ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
      ...(opts.parallelism === undefined ? {} : { parallelism: opts.parallelism }),
    });
    outcomes.push({ ...ref, outcome, every: opts.every! });
  }
  return outcomes;
}
