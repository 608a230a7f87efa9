import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { JoinKeyType, ValueType } from '../definitions/value-type.ts';
import { literal, ident, type DuckDBSession } from './duckdb-session.ts';
import { entityPartitionSql } from './entity-partition-sql.ts';
import { prepareHistoricalJoin, withJoinSession, type HistoricalJoinInput, type HistoricalJoinOptions, type HistoricalOutputColumn } from './historical-join.ts';
import { historicalScratch } from './historical-scratch.ts';
import { viewStagedRowsSql } from './point-in-time-sql.ts';

/** Hidden columns of a partition's entity rows: the input row, the event time (ms), each view's key values. */
export const ROW_COLUMN = '__granary_row';
export const TIME_COLUMN = '__granary_time';
export const partitionKeyColumn = (view: number, key: number): string => `__granary_pk${view}_${key}`;

/**
 * The plan of a distributed training set, written to the scratch (split.json) by splitHistorical
 * and read by each partition's join: how many partitions, the output's columns, and each view's
 * side of the join as its staged rows declare it.
 */
export interface HistoricalSplit {
  readonly partitions: number;
  /** Entity rows in all (the training set's rows). */
  readonly rows: number;
  /** Feature rows read from the committed objects, in all views. */
  readonly featureRows: number;
  /** The entity table's own columns, in order (the output starts with them). */
  readonly entityColumns: readonly string[];
  readonly views: readonly {
    readonly keys: readonly { readonly column: string; readonly type: JoinKeyType }[];
    readonly features: readonly { readonly name: string; readonly type: ValueType; readonly present: boolean }[];
    readonly ttlMs: number;
  }[];
  readonly output: readonly HistoricalOutputColumn[];
  /** Output column names, in order. */
  readonly columns: readonly string[];
}

/** Label plus feature rows per partition when the caller does not say: about this many. */
const ROWS_PER_PARTITION = 2_000_000;
const MIN_PARTITIONS = 2;
const MAX_PARTITIONS = 256;

/** The partition count for a training set of this size: at least 2, about 2M label plus feature rows each, at most 256. */
export function partitionsFor(rows: number): number {
  return Math.min(MAX_PARTITIONS, Math.max(MIN_PARTITIONS, Math.ceil(rows / ROWS_PER_PARTITION)));
}

/**
 * The first step of a distributed training set: prepares the join as the in-process path does
 * (prepareHistoricalJoin: the entity table typed, or a snapshot's built, the committed objects
 * staged), then splits the entity rows and every view's committed rows into entity-hash
 * partitions (entityPartitionSql: the rebuild's partitions) with one DuckDB pass each, and puts
 * each partition's files and the plan (split.json, last) in the run's scratch. Each entity row
 * carries its input row number, so the merge restores the input's order. The partition key is
 * the first view's join keys; a view with other join keys is not split but shared: every
 * partition reads all of its rows (its memory then grows with that view). A retry starts the
 * split over: the scratch's split is dropped first, and the same files land at the same keys.
 *
 * @example
 *   await splitHistorical(registry, offline, input, { project: 'fraud', id: 'a1b2c3', partitions: 8 })
 *   // => { partitions: 8, rows: 1_000_000, featureRows: 2_000_000, columns: ['user_id', 'event_timestamp', 'label', 'spend'], ... }
 */
export async function splitHistorical(
  registry: Registry,
  offline: OfflineStore,
  input: HistoricalJoinInput,
  run: { readonly project: string; readonly id: string; readonly partitions?: number | undefined },
  options: HistoricalJoinOptions = {},
): Promise<HistoricalSplit> {
  const scratch = historicalScratch(run.project, run.id);
  const signature = (v: (typeof input.views)[number]) => v.view.entities.map((e) => `${e.joinKey}:${e.valueType}`).join(',');
  // The partition key: the first view's join keys. A view keyed otherwise is read whole by every partition.
  const partitioned = input.views.map((v) => signature(v) === signature(input.views[0]!));
  for await (const object of offline.list(scratch.splitPrefix)) await offline.delete(object.key);

  return withJoinSession(options, async (duck, work) => {
    const prepared = await prepareHistoricalJoin(duck, registry, offline, input, work, options.onProgress);
    const { entities, views } = prepared;
    const featureRows = await Promise.all(
      views.map(async (v) => (v.files.length === 0 ? 0 : Number((await duck.rows(`SELECT count(*) AS n FROM read_parquet([${v.files.map(literal).join(', ')}])`))[0]!.n))),
    );
    const partitions = run.partitions ?? partitionsFor(entities.rowCount + featureRows.reduce((a, b) => a + b, 0));
    if (!Number.isSafeInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a whole number >= 1, got ${partitions}`);

    // Entity rows: their columns, the input row, the time and key expressions computed once, the partition.
    const keyColumns = views.flatMap((v, i) => v.keys.map((k, j) => ({ name: partitionKeyColumn(i, j), sql: k.entitySql, type: k.type })));
    const entityPartition = entityPartitionSql(
      views[0]!.keys.map((k) => ({ sql: k.entitySql, type: k.type })),
      partitions,
    );
    const entitySelect = [
      ...entities.columns.map((c) => `l.${ident(c)}`),
      `l.file_row_number AS ${ident(ROW_COLUMN)}`,
      `${entities.timeSql} AS ${ident(TIME_COLUMN)}`,
      ...keyColumns.map((k) => `${k.sql} AS ${ident(k.name)}`),
    ];
    await splitInto(
      duck,
      `SELECT ${entitySelect.join(', ')}, ${entityPartition} AS __granary_p FROM read_parquet(${literal(entities.path)}, file_row_number = true) l`,
      join(work, 'split-entities'),
    );
    for (const [i, view] of views.entries()) {
      const source = viewStagedRowsSql(view);
      if (!partitioned[i]) {
        await duck.run(`COPY (${source}) TO ${literal(join(work, `shared-v${i}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`);
        await offline.putBytes(`${scratch.sharedPrefix}v${i}-0.parquet`, await readFile(join(work, `shared-v${i}.parquet`)));
        continue;
      }
      const partition = entityPartitionSql(view.keys.map((_, j) => ({ sql: `k${j}`, type: view.keys[j]!.type })), partitions);
      const notNull = view.keys.map((_, j) => `k${j} IS NOT NULL`).join(' AND ');
      await splitInto(duck, `SELECT *, ${partition} AS __granary_p FROM (${source}) WHERE ${notNull}`, join(work, `split-v${i}`));
    }

    // Up to the scratch: partition p's files, named by what they hold.
    for (let p = 0; p < partitions; p++) {
      await upload(offline, join(work, 'split-entities'), p, `${scratch.partitionPrefix(p)}entities`);
      for (let i = 0; i < views.length; i++) if (partitioned[i]) await upload(offline, join(work, `split-v${i}`), p, `${scratch.partitionPrefix(p)}v${i}`);
    }
    const split: HistoricalSplit = {
      partitions,
      rows: entities.rowCount,
      featureRows: featureRows.reduce((a, b) => a + b, 0),
      entityColumns: entities.columns,
      views: views.map((v) => ({ keys: v.keys.map((k) => ({ column: k.column, type: k.type })), features: v.features, ttlMs: v.ttlMs })),
      output: input.columns,
      columns: [...entities.columns, ...input.columns.map((c) => c.name)],
    };
    await offline.putBytes(scratch.plan, new TextEncoder().encode(JSON.stringify(split)));
    return split;
  });
}

/** The split plan of a run, from its scratch. */
export async function readHistoricalSplit(offline: OfflineStore, project: string, id: string): Promise<HistoricalSplit> {
  return JSON.parse(new TextDecoder().decode(await offline.getBytes(historicalScratch(project, id).plan))) as HistoricalSplit;
}

/**
 * Writes the rows of `select` (with a __granary_p column) as one folder per partition (DuckDB's
 * hive partitioning, one pass). Every partition gets a file, empty ones too, so each has the
 * columns and types whatever its rows.
 */
async function splitInto(duck: DuckDBSession, select: string, dir: string): Promise<void> {
  await duck.run(`COPY (${select}) TO ${literal(dir)} (FORMAT parquet, PARTITION_BY (__granary_p), COMPRESSION zstd, OVERWRITE_OR_IGNORE true)`);
  await duck.run(`COPY (SELECT * EXCLUDE (__granary_p) FROM (${select}) LIMIT 0) TO ${literal(join(dir, 'empty.parquet'))} (FORMAT parquet)`);
}

/** Puts partition p's files of a split folder at `<key>-<n>.parquet` (the empty file when the partition has no rows). */
async function upload(offline: OfflineStore, dir: string, partition: number, key: string): Promise<void> {
  const folder = join(dir, `__granary_p=${partition}`);
  const names = (await stat(folder).catch(() => null)) ? (await readdir(folder)).filter((n) => n.endsWith('.parquet')).sort() : [];
  const files = names.length > 0 ? names.map((n) => join(folder, n)) : [join(dir, 'empty.parquet')];
  for (const [n, file] of files.entries()) await offline.putBytes(`${key}-${n}.parquet`, await readFile(file));
}

/** Partition p's files from the scratch into `dir`: the entity rows' and each view's local paths. */
export async function downloadPartition(offline: OfflineStore, project: string, id: string, partition: number, views: number, dir: string): Promise<{ entities: string[]; views: string[][] }> {
  await mkdir(dir, { recursive: true });
  const scratch = historicalScratch(project, id);
  const prefix = scratch.partitionPrefix(partition);
  const out = { entities: [] as string[], views: Array.from({ length: views }, () => [] as string[]) };
  const objects: { key: string; name: string }[] = [];
  for (const folder of [prefix, scratch.sharedPrefix]) {
    for await (const object of offline.list(folder)) objects.push({ key: object.key, name: object.key.slice(folder.length) });
  }
  for (const object of objects) {
    const name = object.name;
    const path = join(dir, name);
    await writeFile(path, await offline.getBytes(object.key));
    const view = /^v(\d+)-\d+\.parquet$/.exec(name);
    if (view) out.views[Number(view[1])]!.push(path);
    else if (/^entities-\d+\.parquet$/.test(name)) out.entities.push(path);
  }
  out.entities.sort();
  out.views.forEach((files) => files.sort());
  if (out.entities.length === 0) throw new Error(`historical run '${id}': partition ${partition} has no entity file in ${prefix} (the plan did not finish?)`);
  return out;
}
