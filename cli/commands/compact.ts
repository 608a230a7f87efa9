import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { positiveInt } from '../option-parsers.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/**
 * `granary compact [VIEW...]`: compacts each view version into a latest-value snapshot (the
 * workflow `compact-view/<project>/<view>/v<version>` on the workers), from its newest snapshot
 * plus the commits since. A later `rebuild-online` with the same partitions (or none asked) reads
 * the snapshot and only the commits after it.
 */
export function registerCompactCommand(program: Command): void {
  program
    .command('compact')
    .description('compact views into latest-value snapshots, so that a rebuild reads one row per entity plus the commits since')
    .argument('[views...]', 'feature views to compact (default: all online views)')
    .option('--partitions <n>', "entity-hash partitions: the rebuild's (default: the last snapshot's, or sized from the rows committed)", positiveInt)
    .option('--parallelism <n>', 'slices and partitions compacted at once (default 2)', positiveInt)
    .action(
      commandAction(async (views: string[], opts: { partitions?: number; parallelism?: number }, command: Command) => {
        const options = globalOptions(command);
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
