import { resolve } from 'node:path';
import { openAsBlob } from 'node:fs';
import { Table, Type } from 'apache-arrow';
import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { memorySize, wholeNumber } from '../option-parsers.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';

interface HistoricalOptions {
  entities?: string;
  service?: string;
  features?: string;
  out: string;
  fullFeatureNames?: boolean;
  eventTimestampColumn?: string;
  start?: string;
  end?: string;
  head?: number;
  memoryLimit?: string;
  tempDir?: string;
  distributed?: boolean;
  distributedAbove?: number;
  partitions?: number;
  parallelism?: number;
}

/**
 * `granary historical --entities labels.parquet (--service NAME | --features view:f,...) --out
 * train.parquet`: a point-in-time-correct training set from the committed offline objects,
 * streamed to a Parquet file with a progress bar; `--start/--end` without --entities gives a
 * snapshot (every entity's latest values as of --end); `--head N` prints the first rows.
 * `--out` may be an `s3://bucket/key` URL. With `--distributed`, or above `--distributed-above`
 * label plus committed feature rows, it runs across workers (workflow `historical/<project>/<id>`)
 * and the bar shows partitions done.
 */
export function registerHistoricalCommand(program: Command): void {
  program
    .command('historical')
    .description('build a point-in-time-correct training set (or a snapshot) from the offline store into a Parquet file')
    .option('--entities <file>', 'entity rows: a .parquet or .csv file with the join keys, an event timestamp and any label columns')
    .option('--service <name>', 'a feature service: its features in its order')
    .option('--features <list>', "comma-separated 'view:feature' (or 'view' for all its features), in output order")
    .requiredOption('--out <file>', 'the Parquet file to write: a local path or an s3://bucket/key URL')
    .option('--full-feature-names', 'name feature columns view__feature')
    .option('--event-timestamp-column <name>', "the entity file's event-timestamp column", 'event_timestamp')
    .option('--start <time>', 'snapshot (no --entities): only rows with event time >= start (default: end - TTL)')
    .option('--end <time>', 'snapshot (no --entities): latest values as of this time')
    .option('--head <n>', 'print the first n rows of the result', wholeNumber)
    .option('--memory-limit <size>', "DuckDB's memory limit, e.g. 4GB; past it the join spills to --temp-dir (default: 80% of RAM)", memorySize)
    .option('--temp-dir <dir>', 'where staged objects and spill files go (default: the OS temporary folder)')
    .option('--distributed', 'run across workers (a Temporal workflow: entity-hash partitions, one activity each, then a merge)')
    .option('--distributed-above <rows>', 'run across workers when label plus committed feature rows exceed this (default 20000000)', wholeNumber)
    .option('--partitions <n>', 'entity-hash partitions of a distributed run (default: about 2M rows each, at least 2)', wholeNumber)
    .option('--parallelism <n>', 'partitions of a distributed run in flight at once (default 4)', wholeNumber)
    .action(
      commandAction(async (opts: HistoricalOptions, command: Command) => {
        const options = globalOptions(command);
        if (!opts.entities && !opts.end) throw new Error('pass --entities FILE, or --end (and --start) for a snapshot');
        const started = Date.now();
        const bar = await progressBar(!options.json && process.stderr.isTTY === true);
        const out = opts.out.startsWith('s3://') ? opts.out : resolve(opts.out);
        try {
          // Access control (issue 18): refuse features the consumer (GRANARY_TOKEN) may not read, before any work.
          await withFeatureStore(options, (store) => store.access.checkOffline(store.stores.registry(), { featureService: opts.service, features: opts.features?.split(',') }));
          const summary = await withFeatureStore(options, async (store) =>
            store.writeHistoricalFeatures(
              {
                ...(opts.entities ? { entitiesFile: resolve(opts.entities) } : {}),
                ...(opts.service ? { featureService: opts.service } : {}),
                ...(opts.features ? { features: opts.features.split(',').map((f) => f.trim()).filter(Boolean) } : {}),
                fullFeatureNames: opts.fullFeatureNames === true,
                ...(opts.eventTimestampColumn ? { eventTimestampColumn: opts.eventTimestampColumn } : {}),
                ...(opts.start ? { start: opts.start } : {}),
                ...(opts.end ? { end: opts.end } : {}),
                ...(opts.memoryLimit ? { memoryLimit: opts.memoryLimit } : {}),
                ...(opts.tempDir ? { tempDir: opts.tempDir } : {}),
                ...(opts.distributed ? { distributed: true } : {}),
                ...(opts.distributedAbove !== undefined ? { distributedAboveRows: opts.distributedAbove } : {}),
                ...(opts.partitions !== undefined ? { partitions: opts.partitions } : {}),
                ...(opts.parallelism !== undefined ? { parallelism: opts.parallelism } : {}),
                onProgress: (p) => bar.update(p.done, p.total, p.stage),
                onRunProgress: (p) => bar.update(p.partitionsDone, p.partitions, `${p.state}: ${p.partitionsDone}/${p.partitions} partitions`),
              },
              out,
            ),
          );
          bar.stop();
          const seconds = (Date.now() - started) / 1000;
          const across = summary.workflowId ? { workflowId: summary.workflowId, partitions: summary.partitions } : {};
          if (options.json) return printJson({ out: opts.out, rows: summary.rows, bytes: summary.bytes, columns: summary.columns, seconds, ...across });
          const where = summary.workflowId ? ` across workers (${summary.workflowId}, ${summary.partitions} partitions)` : '';
          printLines(`${opts.out}: ${summary.rows} rows x ${summary.columns.length} columns (${summary.columns.join(', ')}) in ${seconds.toFixed(1)} s${where}`);
          if (opts.head && !out.startsWith('s3://')) {
            const head = await firstRows(out, opts.head);
            const times = head.schema.fields.map((f) => f.type.typeId === Type.Timestamp);
            printLines(formatTable(summary.columns, head.toArray().map((row) => summary.columns.map((c, i) => cell(row[c], times[i]!)))));
          }
        } finally {
          bar.stop();
        }
      }),
    );
}

/** The first n rows of a Parquet file (read a row group at a time, stopping at n). */
async function firstRows(path: string, n: number): Promise<Table> {
  const { readRowGroups } = await import('../../stores/offline/read-row-groups.ts');
  const batches = [];
  let rows = 0;
  for await (const { table } of readRowGroups(await openAsBlob(path), {}, path)) {
    batches.push(...table.slice(0, n - rows).batches);
    rows += Math.min(table.numRows, n - rows);
    if (rows >= n) break;
  }
  return new Table(batches);
}

function cell(value: unknown, time = false): string {
  if (value === null || value === undefined) return 'null';
  if (time && typeof value === 'number') return new Date(value).toISOString();
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number') return Number.isInteger(value) || !Number.isFinite(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  if (typeof value === 'object' && Symbol.iterator in value) return `[${Array.from(value as Iterable<unknown>, (v) => cell(v)).join(', ')}]`;
  return String(value);
}

async function progressBar(tty: boolean) {
  if (!tty) return { update: () => undefined, stop: () => undefined };
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar({ format: 'historical [{bar}] {percentage}% | {stage}', hideCursor: true }, Presets.shades_classic);
  let started = false;
  return {
    update(done: number, total: number, stage: string) {
      if (!started) {
        bar.start(Math.max(total, 1), done, { stage });
        started = true;
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(done, { stage });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
