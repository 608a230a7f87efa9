import type { Command } from 'commander';
import { parseDurationSeconds } from '../../definitions/duration.ts';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { printJson, printLines } from '../output.ts';

/** `granary gc`: removes offline objects no commit names, once older than the grace period. */
export function registerGcCommand(program: Command): void {
  program
    .command('gc')
    .description('remove uncommitted offline objects (crashed writes, staged batches) older than a grace period')
    .option('--grace <duration>', 'leave objects younger than this alone (an ingestion may be in flight)', '24h')
    .option('--dry-run', 'list what would be removed, remove nothing', false)
    .action(
      commandAction(async (opts: { grace: string; dryRun: boolean }, command: Command) => {
        const options = globalOptions(command);
        const graceSeconds = parseDurationSeconds(opts.grace);
        if (graceSeconds === undefined || graceSeconds < 0) throw new Error(`--grace must be a duration such as 24h or 30m, got '${opts.grace}'`);
        const { collectOfflineGarbage } = await import('../../sdk/offline-garbage.ts');
        const report = await withFeatureStore(options, (store) =>
          collectOfflineGarbage({ registry: store.stores.registry(), offline: store.stores.offline }, store.project, {
            graceSeconds,
            dryRun: opts.dryRun,
          }),
        );
        if (options.json) return printJson(report);
        printLines([
          ...report.removed.map((key) => `${report.dryRun ? 'would remove' : 'removed'} ${key}`),
          `${report.scanned} objects: ${report.committed} committed, ${report.removed.length} ${report.dryRun ? 'to remove' : 'removed'}, ${report.kept} uncommitted but within the grace period.`,
        ]);
      }),
    );
}
