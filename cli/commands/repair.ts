import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { positiveInt } from '../option-parsers.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/**
 * `granary repair <view> --entity KEY...`: corrects entities whose online row is wrong, such as a
 * row stamped far in the future (9999-12-31) that every later row lost to. Each entity is
 * re-derived from the offline store, refusing committed rows whose event or created time is later
 * than their commit's time + ingest.maxFutureSkew, and written to the online store
 * unconditionally (sdk/entity-repair.ts). A composite key is its values in entity order, joined
 * by commas: `--entity u1,42`.
 */
export function registerRepairCommand(program: Command): void {
  program
    .command('repair')
    .description('re-derive entities from the offline store (refusing rows from the future) and write them online unconditionally')
    .argument('<view>', 'the feature view')
    .requiredOption('--entity <key...>', 'entity keys to repair (composite keys: values in entity order, comma-separated)')
    .option('--view-version <n>', 'the view version (default: the highest applied)', positiveInt)
    .action(
      commandAction(async (viewName: string, opts: { entity: string[]; viewVersion?: number }, command: Command) => {
        const options = globalOptions(command);
        const version = opts.viewVersion;
        const report = await withFeatureStore(options, async (store) => {
          const view = await store.view(viewName, version);
          const keys = opts.entity.map((text) => parseEntityKey(text, view.entities.map((e) => ({ name: e.joinKey, type: e.valueType }))));
          return store.repair(view.name, keys, { version: view.version });
        });
        if (options.json) return printJson(report);
        const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
        printLines(
          formatTable(
            ['ENTITY', 'WAS (EVENT TIME)', 'NOW (EVENT TIME)', 'ACTION'],
            report.entities.map((e) => [e.entity, when(e.previousEventTime), when(e.eventTime), e.action]),
          ),
        );
        printLines(
          `${report.view} v${report.version}: ${report.entities.length} entit${report.entities.length === 1 ? 'y' : 'ies'} repaired in generation(s) ${report.generations.join(', ')}; ` +
            `${report.refused} committed row(s) refused (event or created time later than their commit + ingest.maxFutureSkew).`,
        );
      }),
    );
}

/** One --entity value as an entity key of the view's join-key types. */
function parseEntityKey(text: string, joinKeys: readonly { name: string; type: string }[]): (string | number | bigint)[] {
  const parts = joinKeys.length === 1 ? [text] : text.split(',');
  if (parts.length !== joinKeys.length) {
    throw new Error(`--entity '${text}': expected ${joinKeys.length} comma-separated values (${joinKeys.map((k) => k.name).join(', ')})`);
  }
  return parts.map((part, i) => {
    const { name, type } = joinKeys[i]!;
    if (type === 'string') return part;
    if (!/^-?\d+$/.test(part.trim())) throw new Error(`--entity '${text}': join key '${name}' is ${type}, got '${part}'`);
    return type === 'int64' ? BigInt(part.trim()) : Number(part.trim());
  });
}
