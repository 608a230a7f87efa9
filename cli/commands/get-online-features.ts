import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';

interface Options {
  readonly service?: string;
  readonly features?: string;
  readonly entities: string;
  readonly fullFeatureNames?: boolean;
}

/**
 * `granary get-online-features (--service NAME | --features view:f,...) --entities JSON`: the
 * online read for a person at a terminal, through the SDK (the same read path as the feature
 * server). Prints a table, one line per entity, a value's status beside it when it is not
 * PRESENT; `--json` prints the feature server's JSON (Feast's response shape).
 *
 * @example
 *   granary get-online-features --service fraud_model_v1 --entities '{"user_id": ["u1", "u2"]}'
 *   // user_id  spend_7d_avg  txn_count_7d
 *   // u1       12.5          3
 *   // u2       null (NOT_FOUND)  null (NOT_FOUND)
 */
export function registerGetOnlineFeaturesCommand(program: Command): void {
  program
    .command('get-online-features')
    .description('read the latest feature values of entities from the online store')
    .option('--service <name>', 'a feature service: its features, in its order')
    .option('--features <refs>', "comma-separated 'view:feature' references")
    .requiredOption('--entities <json>', 'join-key columns, e.g. \'{"user_id": ["u1", "u2"]}\'')
    .option('--full-feature-names', 'name features view__feature')
    .action(
      commandAction(async (opts: Options, command: Command) => {
        const options = globalOptions(command);
        if ((opts.service === undefined) === (opts.features === undefined)) throw new Error('give either --service NAME or --features view:feature,...');
        const entityRows = parseEntities(opts.entities);
        const { feastResponse } = await import('../../serving/feast-format.ts');
        const { resultToColumns } = await import('../../serving/online-features.ts');
        const { jsonValueOf } = await import('../../serving/json-value.ts');
        const result = await withFeatureStore(options, (store) =>
          store.getOnlineFeatures({
            featureService: opts.service,
            features: opts.features?.split(',').map((f) => f.trim()).filter((f) => f !== ''),
            entityRows,
            fullFeatureNames: opts.fullFeatureNames === true,
          }),
        );
        if (options.json) {
          printJson(feastResponse(resultToColumns(result)));
          return EXIT_CODES.ok;
        }
        const cell = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));
        printLines(
          formatTable(
            [...result.joinKeys, ...result.featureNames],
            result.rows.map((row) => [
              ...result.joinKeys.map((key) => cell(typeof row.entity[key] === 'bigint' ? String(row.entity[key]) : row.entity[key])),
              ...row.values.map((value, f) => {
                const shown = cell(jsonValueOf(value, result.featureTypes[f]!));
                return row.statuses[f] === 'PRESENT' ? shown : `${shown} (${row.statuses[f]})`;
              }),
            ]),
          ),
        );
        return EXIT_CODES.ok;
      }),
    );
}

/** `{"user_id": ["u1", "u2"], ...}` to entity rows; a clear error for anything else. */
function parseEntities(text: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`--entities is not valid JSON (${(error as Error).message}); expected e.g. '{"user_id": ["u1", "u2"]}'`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`--entities must be a JSON object of join-key columns, e.g. '{"user_id": ["u1", "u2"]}'`);
  }
  const columns = Object.entries(parsed as Record<string, unknown>);
  if (columns.length === 0) throw new Error('--entities names no join key');
  let count = -1;
  for (const [key, values] of columns) {
    if (!Array.isArray(values)) throw new Error(`--entities: '${key}' must be a list of values, e.g. {"${key}": [...]}`);
    if (count >= 0 && values.length !== count) throw new Error(`--entities: every join key needs the same number of values ('${key}' has ${values.length}, expected ${count})`);
    count = values.length;
  }
  return Array.from({ length: count }, (_, r) => Object.fromEntries(columns.map(([key, values]) => [key, (values as unknown[])[r]])));
}
