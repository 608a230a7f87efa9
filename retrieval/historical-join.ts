import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { committedObjects, committedRowColumns, type CommittedObject } from './committed-objects.ts';
import { DuckDBSession, ident, literal } from './duckdb-session.ts';
import { entityTable, type EntityJoinKey, type EntitySource, type EntityTable } from './entity-table.ts';
import { pointInTimeSql, viewStagedRowsSql, type PointInTimeView } from './point-in-time-sql.ts';
import { stageObjects } from './staged-objects.ts';

/** One view's part in a join: its features and its look-back. */
export interface HistoricalView {
  readonly view: FeatureView;
  /** The view's features to read, each once. */
  readonly features: readonly string[];
  /** Look-back in ms instead of the view's TTL (a snapshot's start..end window). */
  readonly ttlMs?: number;
}

export interface HistoricalOutputColumn {
  /** Index into views. */
  readonly view: number;
  readonly feature: string;
  /** Its name in the output. */
  readonly name: string;
}

/** A snapshot's entity rows: every entity with a committed row in a view's window (end - ttlMs .. end), each at `end` (ms). */
export interface SnapshotEntities {
  readonly snapshot: { readonly end: number };
}

/** What to join: the entity rows, the views, the output's feature columns. */
export interface HistoricalJoinInput {
  readonly entities: EntitySource | SnapshotEntities;
  readonly eventTimestampColumn: string;
  readonly views: readonly HistoricalView[];
  readonly columns: readonly HistoricalOutputColumn[];
  /** The views' committed objects when already listed (a snapshot lists them first); else listed for the entity rows' time range. */
  readonly objects?: readonly (readonly CommittedObject[])[];
}

export interface HistoricalProgress {
  readonly stage: 'read' | 'join';
  /** Units of work done and in all: objects staged, then the join (one unit). */
  readonly done: number;
  readonly total: number;
}

export interface HistoricalJoinOptions {
  /** DuckDB's memory_limit, e.g. '4GB' (default: DuckDB's, 80% of RAM); past it the join spills to tempDir. */
  readonly memoryLimit?: string;
  /** DuckDB worker threads (default: one per core). */
  readonly threads?: number;
  /** Where staged objects and DuckDB's spill files go (default: the OS temporary folder). */
  readonly tempDir?: string;
  readonly onProgress?: (progress: HistoricalProgress) => void;
}

export interface HistoricalOutput {
  readonly rows: number;
  readonly bytes: number;
  /** Output column names, in order. */
  readonly columns: readonly string[];
}

/**
 * The point-in-time join behind historical retrieval, run by DuckDB, Parquet in and Parquet out:
 * for each entity row and each requested view, the view's committed row with the greatest event
 * time <= the row's event timestamp and >= that timestamp - TTL (ties: greatest created
 * timestamp, then the earlier commit), or nulls. Writes `out` with the entity table's columns
 * (every row, duplicates too, in its order), then the features in the requested order, each with
 * its declared type (timestamps as UTC microseconds).
 *
 * The committed objects reach DuckDB as local files (stageObjects: symlinks to a local store's
 * files, or downloads through the store's API from S3) in a temporary folder, with the entity
 * table (entityTable); DuckDB's memory_limit bounds memory, its temp_directory takes what spills.
 * The SQL is pointInTimeSql. `out` appears only when complete.
 *
 * @example
 *   await historicalJoin(registry, offline, {
 *     entities: { file: 'labels.parquet' }, eventTimestampColumn: 'event_timestamp',
 *     views: [{ view: userSpend, features: ['spend_7d_avg'] }],
 *     columns: [{ view: 0, feature: 'spend_7d_avg', name: 'spend_7d_avg' }],
 *   }, 'train.parquet') // => { rows: 1000000, bytes: 21337120, columns: ['user_id', 'event_timestamp', 'label', 'spend_7d_avg'] }
 */
export async function historicalJoin(
  registry: Registry,
  offline: OfflineStore,
  input: HistoricalJoinInput,
  out: string,
  options: HistoricalJoinOptions = {},
): Promise<HistoricalOutput> {
  return withJoinSession(options, async (duck, work) => {
    const prepared = await prepareHistoricalJoin(duck, registry, offline, input, work, options.onProgress);
    const { entities } = prepared;
    const sql = pointInTimeSql({ entities, views: prepared.views, output: input.columns });
    const temp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await duck.run(`COPY (${sql}) TO ${literal(temp)} (${PARQUET_OUTPUT})`);
      await rename(temp, out);
    } catch (error) {
      await rm(temp, { force: true });
      throw joinError(error, prepared.staged);
    }
    prepared.report('join', 1);
    return { rows: entities.rowCount, bytes: (await stat(out)).size, columns: [...entities.columns, ...input.columns.map((c) => c.name)] };
  });
}

/** How training sets are written: zstd, row groups of 128Ki rows. */
export const PARQUET_OUTPUT = 'FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072';

/** Runs `work` with a DuckDB session and a temporary folder of its own, both gone after. */
export async function withJoinSession<T>(options: HistoricalJoinOptions, work: (duck: DuckDBSession, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'granary-historical-'));
  try {
    const duck = await DuckDBSession.open({
      tempDir: join(dir, 'duckdb'),
      ...(options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    });
    try {
      return await work(duck, dir);
    } finally {
      duck.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A join ready to run: the entity table and every view's side as DuckDB reads them, from local files in the session's folder. */
export interface PreparedJoin {
  readonly entities: EntityTable;
  readonly views: readonly PointInTimeView[];
  /** Staged file -> the offline object it holds (for error messages). */
  readonly staged: ReadonlyMap<string, string>;
  /** Reports progress: units of `stage` done. */
  report(stage: HistoricalProgress['stage'], units: number): void;
}

/**
 * The steps before the join, shared by the in-process and the distributed retrieval: the entity
 * table made readable by DuckDB (entityTable), the committed objects listed (for the entity rows'
 * time range, unless given) and staged as local files (stageObjects), each view's side described.
 * A snapshot's entity table is built by DuckDB from the staged objects (snapshotEntityFile).
 */
export async function prepareHistoricalJoin(
  duck: DuckDBSession,
  registry: Registry,
  offline: OfflineStore,
  input: HistoricalJoinInput,
  work: string,
  onProgress?: (progress: HistoricalProgress) => void,
): Promise<PreparedJoin> {
  const staged = new Map<string, string>();
  const keys: EntityJoinKey[] = input.views.flatMap(({ view }) => view.entities.map((e) => ({ name: e.joinKey, type: e.valueType, view: view.name })));
  const ttls = input.views.map((v) => v.ttlMs ?? v.view.ttlSeconds * 1000);
  let done = 0;
  let total = 1;
  const report = (stage: HistoricalProgress['stage'], units: number) => {
    done += units;
    onProgress?.({ stage, done, total });
  };
  const stageAll = async (objects: readonly (readonly CommittedObject[])[]): Promise<string[][]> => {
    total = objects.reduce((n, o) => n + o.length, 0) + 1;
    const files: string[][] = [];
    for (const [i, list] of objects.entries()) {
      const dir = join(work, `v${i}`);
      await mkdir(dir);
      files.push(await stageObjects(offline, list, dir, (n) => report('read', n)));
      files[i]!.forEach((f, j) => staged.set(f, list[j]!.key));
    }
    return files;
  };

  let entities: EntityTable;
  let objects: readonly (readonly CommittedObject[])[];
  let files: string[][];
  if ('snapshot' in input.entities) {
    if (!input.objects) throw new RangeError('a snapshot lists its objects first (planHistoricalRetrieval)');
    objects = input.objects;
    files = await stageAll(objects);
    const sides = await Promise.all(input.views.map((v, i) => viewSide(duck, { ...v, features: [] }, objects[i]!, files[i]!, ttls[i]!, () => 'NULL')));
    const path = join(work, 'snapshot-entities.parquet');
    await duck.run(snapshotEntityFileSql(sides, input.views[0]!.view, input.entities.snapshot.end, input.eventTimestampColumn, path));
    entities = await entityTable(duck, { file: path }, input.eventTimestampColumn, keys, work);
  } else {
    entities = await entityTable(duck, input.entities, input.eventTimestampColumn, keys, work);
    objects =
      input.objects ??
      (await Promise.all(
        input.views.map((v, i) =>
          entities.rowCount === 0 ? [] : committedObjects(registry, v.view, { from: entities.minTime - ttls[i]!, to: entities.maxTime }),
        ),
      ));
    files = await stageAll(objects);
  }
  checkOutputNames(entities.columns, input);
  const views: PointInTimeView[] = [];
  for (const [i, request] of input.views.entries()) {
    views.push(await viewSide(duck, request, objects[i]!, files[i]!, ttls[i]!, (key) => entities.keySql(key)));
  }
  report('join', 0);
  return { entities, views, staged, report };
}

/**
 * The COPY writing a snapshot's entity table: each entity (join-key values, typed as declared)
 * with a committed row in some view's window (event time in [end - ttl, end], both inclusive),
 * once, in the order first read (views in request order, objects in commit order, rows in
 * order), each with the event timestamp `end` (UTC).
 */
function snapshotEntityFileSql(views: readonly PointInTimeView[], first: FeatureView, end: number, eventTimestampColumn: string, path: string): string {
  const keys = first.entities.map((e, j) => ({ name: e.joinKey, type: e.valueType, k: `k${j}` }));
  const ks = keys.map((k) => k.k).join(', ');
  const parts = views.flatMap((view, v) =>
    view.files.length === 0
      ? []
      : [`SELECT ${ks}, ${v} AS v, o, r FROM (${viewStagedRowsSql(view)}) WHERE e BETWEEN ${Math.round(end - view.ttlMs)} AND ${Math.round(end)}${keys.map((k) => ` AND ${k.k} IS NOT NULL`).join('')}`],
  );
  const rows =
    parts.length > 0
      ? parts.join('\n UNION ALL ')
      : `SELECT ${keys.map((k) => `CAST(NULL AS ${k.type === 'string' ? 'VARCHAR' : 'BIGINT'}) AS ${k.k}`).join(', ')}, 0 AS v, 0 AS o, 0 AS r LIMIT 0`;
  const typed = keys.map((k) => `CAST(${k.k} AS ${k.type === 'int32' ? 'INTEGER' : k.type === 'int64' ? 'BIGINT' : 'VARCHAR'}) AS ${ident(k.name)}`);
  return `COPY (SELECT ${typed.join(', ')}, make_timestamptz(${Math.round(end)}::BIGINT * 1000) AS ${ident(eventTimestampColumn)}
    FROM (SELECT ${ks}, min([v, o, r]) AS first FROM (${rows}) GROUP BY ${ks})
    ORDER BY first) TO ${literal(path)} (FORMAT parquet)`;
}

/** The view's side of the join: which features its objects hold, and whether their column sets differ. */
async function viewSide(
  duck: DuckDBSession,
  request: HistoricalView,
  objects: readonly CommittedObject[],
  files: readonly string[],
  ttlMs: number,
  keySql: (key: EntityJoinKey) => string,
): Promise<PointInTimeView> {
  const { view } = request;
  const columns = committedRowColumns(view, request.features);
  let present: (name: string) => boolean;
  let unionByName: boolean;
  if (objects.every((o) => o.features !== null)) {
    const sets = new Set(objects.map((o) => request.features.filter((f) => o.features!.includes(f)).join('\u0000')));
    unionByName = sets.size > 1;
    present = (name) => objects.some((o) => o.features!.includes(name));
  } else {
    // No record of some object's schema version: its own columns decide.
    const rows = await duck.rows(`DESCRIBE SELECT * FROM read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`);
    const names = new Set(rows.map((r) => String(r.column_name)));
    unionByName = true;
    present = (name) => names.has(name);
  }
  return {
    files,
    keys: view.entities.map((e) => ({ column: e.joinKey, type: e.valueType, entitySql: keySql({ name: e.joinKey, type: e.valueType, view: view.name }) })),
    eventTimestampColumn: view.source.eventTimestampColumn,
    createdTimestampColumn: view.source.createdTimestampColumn ?? null,
    features: columns.filter((c) => c.role === 'feature').map((c) => ({ name: c.name, type: c.type, present: present(c.name) })),
    unionByName,
    ttlMs,
  };
}

/** Two output columns with one name: refused, naming both. */
function checkOutputNames(entityColumns: readonly string[], input: HistoricalJoinInput): void {
  const seen = new Map<string, string>(entityColumns.map((name) => [name, 'a column of the entity table']));
  for (const c of input.columns) {
    const what = `feature '${c.feature}' of view '${input.views[c.view]!.view.name}'`;
    const other = seen.get(c.name);
    if (other) throw new RangeError(`output column '${c.name}' would hold both ${other} and ${what}: use fullFeatureNames (view__feature)`);
    seen.set(c.name, what);
  }
}

/** DuckDB's error, with staged file names replaced by the offline objects they hold. */
function joinError(error: unknown, staged: ReadonlyMap<string, string>): Error {
  let message = error instanceof Error ? error.message : String(error);
  for (const [file, key] of staged) message = message.replaceAll(file, `offline object '${key}'`);
  return new Error(`historical retrieval: ${message}`, { cause: error });
}

