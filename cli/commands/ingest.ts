import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { positiveInt } from '../option-parsers.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { printJson, printLines } from '../output.ts';

/**
 * `granary ingest <view> <file>`: validates every row of a Parquet or CSV file against the
 * view as it reads it (a stream: CSV in chunks, Parquet by row group), rejecting the whole batch,
 * naming rows and columns, when one is bad; then runs the ingestion workflow: offline write,
 * commit, materialize. A file lacking a feature column is refused unless --allow-missing-features.
 */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('ingest a Parquet or CSV file into a feature view (offline first, then online)')
    .argument('<view>', 'the feature view')
    .argument('<file>', 'a .parquet or .csv file with the join keys, the event timestamp and features')
    .option('--batch-id <id>', 'idempotency key: a batch id is ingested once (default: a hash of the rows)')
    .option('--view-version <n>', 'the view version (default: the highest applied)', positiveInt)
    .option('--allow-missing-features', 'store nulls for declared features the file has no column for (default: refuse the file)')
    .action(
      commandAction(async (view: string, file: string, opts: { batchId?: string; viewVersion?: number; allowMissingFeatures?: boolean }, command: Command) => {
        const options = globalOptions(command);
        const { readViewTable } = await import('../../ingest/batch-validation.ts');
        const allowMissingFeatures = opts.allowMissingFeatures === true;
        const result = await withFeatureStore(options, async (store) => {
          const declared = await store.view(view, opts.viewVersion || undefined);
          const table = await readViewTable(declared, file, { allowMissingFeatures, maxFutureSkewMs: store.config.ingest.maxFutureSkewMs });
          return store.push(view, table, {
            ...(opts.batchId ? { batchId: opts.batchId } : {}),
            ...(opts.viewVersion ? { version: opts.viewVersion } : {}),
            allowMissingFeatures,
          });
        });
        if (options.json) return printJson(result);
        const how = result.created ? 'committed' : 'already committed before (nothing written again)';
        const online = result.materialized ? 'materialized online' : `not online: ${result.reason ?? 'unknown reason'}`;
        printLines(`${view}: ${result.rows} rows ${how} as commit ${result.seq} in ${result.objects.length} object(s); ${online}.`);
        for (const copy of result.migrated ?? []) {
          printLines(
            copy.error
              ? `  not copied to version ${copy.version} (being migrated to): ${copy.error}`
              : `  also written to version ${copy.version} (being migrated to) as commit ${copy.seq}${copy.materialized ? ', online' : ''}.`,
          );
        }
      }),
    );
}
