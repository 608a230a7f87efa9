import type { Command } from 'commander';
import type { MaterializeProgress } from '../../workflows/contracts.ts';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { printJson, printLines } from '../output.ts';
import { progressOutput, viewProgress, type ProgressOutput } from '../view-progress.ts';

/**
 * `granary materialize [VIEW...]`: brings the online store up to the latest offline commits,
 * through each view's one materialization workflow (joined when it already runs), showing
 * progress: a bar on a terminal, plain lines otherwise.
 */
export function registerMaterializeCommand(program: Command): void {
  program
    .command('materialize')
    .description('apply new offline commits to the online store (all online views when none are named)')
    .argument('[views...]', 'feature views to materialize')
    .action(
      commandAction(async (views: string[], _opts: object, command: Command) => {
        const options = globalOptions(command);
        const progress = progressDisplay(progressOutput(options));
        try {
          const results = await withFeatureStore(options, (store) => store.materialize(views, { onProgress: progress.update }));
          progress.stop();
          if (options.json) return printJson(results);
          // The bar does not say it: say it in a line.
          if (process.stdout.isTTY) for (const r of results) if (r.state === 'rebuild-requested') printLines(`generation ${r.generation}${stateNote(r)}`);
          if (results.length === 0) printLines('No online feature views to materialize (run granary apply first).');
        } finally {
          progress.stop();
        }
      }),
    );
}

function stateNote(p: MaterializeProgress): string {
  if (p.state === 'done') return ' - done';
  if (p.state === 'rebuild-requested') return ' - Redis lost this generation: a rebuild was started (follow it with granary rebuild-online --wait)';
  return '';
}

function progressDisplay(output: ProgressOutput) {
  return viewProgress<MaterializeProgress>(output, '{value}/{total} commit seq | {rows} rows', (p) => ({
    value: p.watermark,
    total: Math.max(p.target, p.watermark, 1),
    payload: { rows: p.rowsWritten },
    line: `watermark ${p.watermark}/${p.target}, ${p.commitsApplied} commits, ${p.rowsWritten} rows written, ${p.rowsSkipped} skipped (older)${stateNote(p)}`,
  }));
}
