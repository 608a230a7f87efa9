import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/**
 * `granary verify [VIEW...]`: checks, entity by entity, that the online store holds the latest
 * committed offline row up to the watermark. Exit code 1 on any divergence.
 */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check online against offline, entity by entity (exit code 1 on any divergence)')
    .argument('[views...]', 'feature views to check (default: all online views)')
    .action(
      commandAction(async (views: string[], _opts: object, command: Command) => {
        const options = globalOptions(command);
        const reports = await withFeatureStore(options, (store) => store.verify(views));
        if (options.json) printJson(reports);
        else {
          printLines(
            formatTable(
              ['VIEW', 'GEN', 'WATERMARK', 'OFFLINE', 'ONLINE', 'MATCHING', 'EXPIRED', 'AHEAD', 'MISSING', 'STALE', 'EXTRA', 'RESULT'],
              reports.map((r) => [
                `${r.view} v${r.version}`,
                String(r.generation),
                `${r.watermark}/${r.latestSeq}`,
                String(r.offlineEntities),
                String(r.onlineEntities),
                String(r.matching),
                String(r.expired),
                String(r.ahead),
                String(r.missing),
                String(r.stale),
                String(r.extra),
                r.ok ? 'ok' : 'DIVERGED',
              ]),
            ),
          );
          for (const r of reports) for (const example of r.examples) printLines(`  ${r.view}: ${example}`);
        }
        return reports.every((r) => r.ok) ? EXIT_CODES.ok : EXIT_CODES.error;
      }),
    );
}
