import { InvalidArgumentError, type Command } from 'commander';
import { parseDurationSeconds } from '../../definitions/duration.ts';
import type { MigrationProgress } from '../../workflows/contracts.ts';
import type { ViewMigrationRecord } from '../../stores/registry/view-migrations.ts';
import { commandAction } from '../command-action.ts';
import { positiveInt } from '../option-parsers.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';
import { progressOutput, viewProgress, type ProgressOutput } from '../view-progress.ts';

/**
 * `granary migrate <view> [--to N]`: migrates a feature view to its version declared with
 * `migrateFrom` (workflows/migrate-view-workflow.ts): backfill, materialize, verify, switch the
 * unpinned feature services, deprecate the old version, remove its online keys after the grace
 * period. Started twice, it attaches to the running migration. By default it follows the
 * migration until the services are switched (a progress bar on a terminal, plain lines
 * otherwise); `--detach` returns at once, `--until-done` waits through the grace period.
 * `--rollback` returns the services to the old version; `--status` lists the view's migrations.
 */
interface MigrateOptions {
  to?: number;
  grace?: number;
  detach?: boolean;
  untilDone?: boolean;
  rollback?: boolean;
  status?: boolean;
  reason?: string;
  commitsPerActivity?: number;
}

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('migrate a feature view to its new version (declared with migrateFrom): backfill, materialize, verify, switch services')
    .argument('<view>', 'the feature view')
    .option('--to <version>', 'the version to migrate to (default: the newest declared with migrateFrom)', positiveInt)
    .option('--grace <duration>', "time between the switch and removing the old version's online keys, e.g. 30m, 24h (default 24h)", duration)
    .option('--detach', 'start (or find) the migration and return at once')
    .option('--until-done', 'wait through the grace period until the old online keys are removed')
    .option('--rollback', 'return the feature services to the old version (while it exists)')
    .option('--reason <text>', 'with --rollback: why, kept with the migration')
    .option('--status', "list the view's migrations and their state")
    .option('--commits-per-activity <n>', 'old-version commits per backfill activity (default 20)', positiveInt)
    .addHelpText('after', '\nExit codes: 0 switched, completed or rolled back, 1 error (the migration failed: the old version keeps serving).')
    .action(
      commandAction(async (view: string, opts: MigrateOptions, command: Command) => {
        const options = globalOptions(command);
        if (opts.status) {
          const records = await withFeatureStore(options, (store) => store.migrations(view));
          if (options.json) return printJson(records);
          if (records.length === 0) return printLines(`${view}: no migrations.`);
          return printLines(formatRecords(records));
        }
        if (opts.rollback) {
          const record = await withFeatureStore(options, (store) =>
            store.rollbackMigration(view, { ...(opts.to ? { to: opts.to } : {}), ...(opts.reason ? { reason: opts.reason } : {}) }),
          );
          if (options.json) return printJson(record);
          return printLines(
            `${view}: rolled back: feature services read version ${record.from} again; version ${record.to} keeps its data (migrating) and can be migrated again.`,
          );
        }
        const display = progressDisplay(progressOutput(options));
        try {
          const handle = await withFeatureStore(options, (store) =>
            store.migrate(view, {
              ...(opts.to ? { to: opts.to } : {}),
              ...(opts.grace === undefined ? {} : { graceSeconds: opts.grace }),
              ...(opts.commitsPerActivity ? { commitsPerActivity: opts.commitsPerActivity } : {}),
              wait: opts.detach ? false : opts.untilDone ? 'done' : 'switched',
              onProgress: display.update,
            }),
          );
          display.stop();
          if (options.json) return printJson(handle);
          printLines(summary(handle.workflowId, handle.progress, opts.detach === true));
        } finally {
          display.stop();
        }
      }),
    );
}

function summary(workflowId: string, p: MigrationProgress, detached: boolean): string[] {
  const name = `${p.view} v${p.from} -> v${p.to}`;
  if (detached) return [`${name}: migration ${workflowId} is ${p.state}; follow it with granary migrate ${p.view} --to ${p.to}`];
  const lines = [`${name}: ${p.state}`];
  if (p.commitsDone > 0) {
    const already = p.commitsDone - p.commitsRewritten;
    const commits = `${p.commitsDone} commit${p.commitsDone === 1 ? '' : 's'}`;
    lines.push(
      `  backfill: ${commits} of v${p.from}, ${p.commitsRewritten} rewritten (${p.rowsRewritten} rows)` +
        (already > 0 ? `, ${already} already in v${p.to} (written by ingestion's dual-write or an earlier attempt)` : ''),
    );
  }
  if (p.verify) {
    lines.push(`  verify: ${p.verify.matching} entities online = offline; ${p.verify.migratedRows} rows in v${p.to} for ${p.verify.sourceRows} in v${p.from}`);
  }
  if (p.switchedServices) lines.push(`  feature services now on v${p.to}: ${p.switchedServices.join(', ') || '(none unpinned)'}`);
  if (p.pinnedServices?.length) lines.push(`  pinned to v${p.from} (keep it): ${p.pinnedServices.join(', ')}`);
  if (p.state === 'grace' || p.state === 'waiting-for-pinned-services') {
    const at = p.removeOldKeysAt ? new Date(p.removeOldKeysAt).toISOString() : 'after the grace period';
    lines.push(`  v${p.from} is deprecated; its online keys are removed at ${at}, once no feature service pins it (its offline data stays)`);
    lines.push(`  to return to v${p.from} until then: granary migrate ${p.view} --rollback`);
  }
  if (p.state === 'completed' && !p.message) lines.push(`  v${p.from} is retired: its online keys were removed, its offline data stays`);
  if (p.message) lines.push(`  ${p.message}`);
  return lines;
}

function formatRecords(records: readonly ViewMigrationRecord[]): string[] {
  return formatTable(
    ['VIEW', 'FROM', 'TO', 'STATE', 'STARTED', 'SWITCHED', 'FINISHED', 'MESSAGE'],
    records.map((r) => [
      r.view,
      `v${r.from}`,
      `v${r.to}`,
      r.state,
      r.startedAt.toISOString(),
      r.switchedAt?.toISOString() ?? '-',
      r.finishedAt?.toISOString() ?? '-',
      r.message ?? '',
    ]),
  );
}

function progressDisplay(output: ProgressOutput) {
  const display = viewProgress<MigrationProgress>(output, '{value}/{total} commits | {rows} rows | {state}', (p) => {
    const total = Math.max(p.sourceCommits, p.commitsDone, 1);
    return {
      value: p.commitsDone,
      total,
      payload: { rows: p.rowsRewritten, state: p.state },
      line: `${p.state}, ${p.commitsDone}/${total} commits backfilled, ${p.rowsRewritten} rows rewritten`,
    };
  });
  return { update: (p: MigrationProgress) => display.update(`${p.view} v${p.from} -> v${p.to}`, p), stop: display.stop };
}

function duration(value: string): number {
  const seconds = parseDurationSeconds(/^\d+$/.test(value) ? Number(value) : value);
  if (seconds === undefined || seconds < 0) throw new InvalidArgumentError(`must be a duration such as 30m or 24h, got '${value}'`);
  return seconds;
}
