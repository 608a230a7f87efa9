import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { positiveInt } from '../option-parsers.ts';
import { formatTable, printJson, printLines } from '../output.ts';
import { progressOutput, viewProgress, type ProgressOutput } from '../view-progress.ts';
import type { VerifyProgress } from '../../workflows/contracts.ts';

/**
 * `granary verify [VIEW...]`: checks, entity by entity, that the online store holds the latest
 * committed offline row up to the watermark. Exit code 1 on any divergence. Runs as the
 * partitioned verify workflow on the workers (a progress bar shows partitions done), or, with
 * `--in-process`, whole view at a time in this process without a worker.
 */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check online against offline, entity by entity (exit code 1 on any divergence)')
    .argument('[views...]', 'feature views to check (default: all online views)')
    .option('--partitions <n>', 'entity-hash partitions, one activity each (default: at least 8, about 1.25M rows each)', positiveInt)
    .option('--parallelism <n>', 'slices and partitions checked at once (default 2)', positiveInt)
    .option('--in-process', 'check in this process, whole view at a time, without a worker (memory grows with the view)')
    .action(
      commandAction(async (views: string[], opts: { partitions?: number; parallelism?: number; inProcess?: boolean }, command: Command) => {
        const options = globalOptions(command);
        const display = progressDisplay(progressOutput(options));
        const reports = await withFeatureStore(options, (store) =>
          opts.inProcess
            ? store.verifyInProcess(views)
            : store.verify(views, {
                onProgress: display.update,
                ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
                ...(opts.parallelism === undefined ? {} : { parallelism: opts.parallelism }),
              }),
        ).finally(() => display.stop());
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

function progressDisplay(output: ProgressOutput) {
  return viewProgress<VerifyProgress>(output, '{value}/{total} partitions | {entities} entities compared | {state}', (p) => ({
    value: p.partitionsDone,
    total: p.partitions,
    payload: { entities: p.entitiesCompared, state: p.state },
    line: `${p.state}, slices ${p.slicesDone}/${p.slices}, partitions ${p.partitionsDone}/${p.partitions}, ${p.entitiesCompared} entities compared`,
  }));
}
