import type { Command } from 'commander';
import type { RebuildProgress } from '../../workflows/contracts.ts';
import { commandAction } from '../command-action.ts';
import { positiveInt, wholeNumber } from '../option-parsers.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { printJson, printLines } from '../output.ts';
import { progressOutput, viewProgress, type ProgressOutput } from '../view-progress.ts';

/**
 * `granary rebuild-online [VIEW...] [--wait]`: disaster recovery. Asks for each view's rebuild
 * (starts its workflow, or joins the running one if its build is still to come; a run past its
 * build builds again for this request) and, with --wait, shows its progress (partitions done,
 * entities written, ETA) until the old generation is dropped, then names the generation built.
 */
export function registerRebuildOnlineCommand(program: Command): void {
  program
    .command('rebuild-online')
    .description('rebuild the online store from the offline store into a new generation, then cut over (all online views when none are named)')
    .argument('[views...]', 'feature views to rebuild')
    .option('--wait', 'wait for the rebuild to finish, showing its progress')
    .option('--partitions <n>', 'entity-hash partitions, one activity each (default: at least 8, about 1.25M rows each)', positiveInt)
    .option('--parallelism <n>', 'partitions rebuilt at once (default 2)', positiveInt)
    .option('--retire-after <seconds>', 'seconds between the cut-over and dropping the old generation (default 60)', wholeNumber)
    .action(
      commandAction(async (views: string[], opts: { wait?: boolean; partitions?: number; parallelism?: number; retireAfter?: number }, command: Command) => {
        const options = globalOptions(command);
        const display = progressDisplay(progressOutput(options));
        try {
          const handles = await withFeatureStore(options, (store) =>
            store.rebuildOnline(views, {
              wait: opts.wait === true,
              onProgress: display.update,
              ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
              ...(opts.parallelism === undefined ? {} : { parallelism: opts.parallelism }),
              ...(opts.retireAfter === undefined ? {} : { retireAfterSeconds: opts.retireAfter }),
            }),
          );
          display.stop();
          if (options.json) return printJson(handles);
          if (handles.length === 0) return printLines('No online feature views to rebuild (run granary apply first).');
          for (const h of handles) {
            const p = h.progress;
            printLines(
              opts.wait
                ? `${h.ref.view} v${h.ref.version}: generation ${p.generation} active (was ${p.previousGeneration}), ${p.entitiesWritten} entities rebuilt, ` +
                    `${p.verifiedEntities ?? 0} verified, watermark ${p.watermark}`
                : p.rebuildFollows
                  ? `${h.ref.view} v${h.ref.version}: rebuild ${h.workflowId} is ${p.state} (generation ${p.generation}, built before this request); ` +
                    `a new build follows it for this request; follow it with granary rebuild-online ${h.ref.view} --wait`
                  : `${h.ref.view} v${h.ref.version}: rebuild ${h.workflowId} is ${p.state} (generation ${p.generation}); follow it with granary rebuild-online ${h.ref.view} --wait`,
            );
          }
        } finally {
          display.stop();
        }
      }),
    );
}

function progressDisplay(output: ProgressOutput) {
  return viewProgress<RebuildProgress>(output, '{value}/{total} partitions | {entities} entities | {state} | ETA {eta_formatted}', (p) => {
    const eta = etaSeconds(p);
    return {
      value: p.partitionsDone,
      total: p.partitions,
      payload: { entities: p.entitiesWritten, state: p.state },
      line: `${p.state}, partitions ${p.partitionsDone}/${p.partitions}, ${p.entitiesWritten} entities written` + (eta === undefined ? '' : `, ETA ${eta}s`),
    };
  });
}

/** From the partitions done so far and the time they took. */
function etaSeconds(p: RebuildProgress): number | undefined {
  if (p.state !== 'building' || p.partitionsDone === 0) return undefined;
  const elapsed = (Date.now() - p.startedAt) / 1000;
  return Math.round((elapsed / p.partitionsDone) * (p.partitions - p.partitionsDone));
}

