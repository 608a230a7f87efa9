import { createReadStream, openAsBlob } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { makeData, RecordBatch, Struct, Table, tableFromIPC, type Data, type DataType } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import type { FeatureView } from '../definitions/feature-view.ts';
import { BatchValidationError, SHOWN_PROBLEMS, type BatchProblem } from './batch-validation-error.ts';
import { convertArrowColumn, convertJsColumn, incompatibility } from './convert-column.ts';
import { nullColumn } from '../arrow/null-column.ts';
import { timestampMillis } from '../arrow/column-values.ts';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '../pipelines/future-event-time.ts';
import { csvChunks, csvToTable, CsvInputError } from './csv-table.ts';
import { readRowGroups } from '../stores/offline/read-row-groups.ts';
import { viewColumns, viewSchema, type ViewColumn } from '../arrow/view-schema.ts';

/** One row of a batch given as objects: column name to value. */
export type BatchRow = Readonly<Record<string, unknown>>;

/** An Arrow table, row objects, or CSV text (header row first). */
export type BatchInput = Table | readonly BatchRow[] | string;

export interface ValidationOptions {
  /** A batch may lack feature columns (they become nulls). Default false: a missing feature column is refused. */
  readonly allowMissingFeatures?: boolean;
  /**
   * How far past `now` an event or created timestamp may be, in ms; default one hour
   * (DEFAULT_MAX_FUTURE_SKEW_MS). Infinity turns the check off (a migration copies rows already
   * committed, which the committed-row rule of future-event-time.ts covers).
   */
  readonly maxFutureSkewMs?: number;
  /** The current time, ms since epoch (default Date.now()). */
  readonly now?: number;
}

export { DEFAULT_MAX_FUTURE_SKEW_MS };

/**
 * Ingestion input, checked against a view and turned into a table in exactly the view's schema
 * (see viewSchema), or rejected whole with a BatchValidationError naming rows and columns.
 *
 * Input: an Arrow table (e.g. a user's Parquet file: int32 where int64 is declared, µs or ns
 * timestamps, dates, text columns are all fine), an array of row objects (`store.push`), or
 * CSV text with a header row. Each column is typed by the view, never guessed (see coerceValue
 * for what text and JS values each type accepts).
 *
 * Rejected: a column the view does not have; a missing join-key or event-timestamp column; a
 * missing feature column, even of a nullable feature (a dropped upstream column would otherwise
 * null the feature for every entity), unless `allowMissingFeatures` is set, which makes the
 * missing columns nulls; an Arrow column whose type cannot hold the declared one; a null join key
 * or event timestamp; a value that does not parse as its type or does not fit it (1e39 in a
 * float32, 1e400 anywhere); NaN or an infinity in a feature that does not declare
 * allowNonFinite; an event or created timestamp later than now + `maxFutureSkewMs`; a null in a
 * non-nullable feature. A missing created-timestamp column becomes nulls.
 *
 * @example
 *   toViewTable(userSpend, [{ user_id: 'u1', event_timestamp: '2024-05-01T00:00:00Z', spend_7d_avg: 12.5 }]).numRows // => 1
 *   toViewTable(userSpend, 'user_id,event_timestamp,spend_7d_avg\nu1,2024-05-01,abc\n')
 *   // throws BatchValidationError: view 'user_spend_features': 1 problem in the batch, nothing was written
 *   //   row 1, column 'spend_7d_avg' (float32): 'abc' is not a number
 */
export function toViewTable(view: FeatureView, input: BatchInput, options: ValidationOptions = {}): Table {
  const log = new ProblemLog(view);
  if (typeof input === 'string') {
    let table: Table;
    try {
      table = csvToTable(input);
    } catch (error) {
      if (error instanceof CsvInputError) log.fail({ row: null, column: null, message: error.message });
      throw error;
    }
    return fromTable(view, table, log, options);
  }
  if (input instanceof Table) return fromTable(view, input, log, options);
  if (Array.isArray(input)) return fromRows(view, input as readonly BatchRow[], log, options);
  return log.fail({ row: null, column: null, message: 'input must be an Arrow table, an array of row objects or CSV text' });
}

/**
 * Reads and validates a .csv or .parquet file against a view as a stream: CSV parsed and typed
 * CHUNK_ROWS rows at a time, Parquet one row group at a time, so memory holds the typed rows and
 * one chunk of text, never the whole file as text. Problems are collected across chunks (row
 * numbers count from the file's first data row) and thrown at the end as one
 * BatchValidationError; a file that cannot be read is named in the error.
 *
 * @example
 *   const table = await readViewTable(userSpend, 'data/user_spend.csv', { maxFutureSkewMs: 3_600_000 });
 */
export async function readViewTable(view: FeatureView, path: string, options: ValidationOptions = {}, chunkRows = CHUNK_ROWS): Promise<Table> {
  const extension = extname(path).toLowerCase();
  if (extension !== '.csv' && extension !== '.parquet') throw new Error(`${path}: expected a .parquet or .csv file`);
  const log = new ProblemLog(view);
  const batches: RecordBatch[] = [];
  let rowBase = 0;
  let checked = false;
  const take = (chunk: Table): void => {
    if (!checked) checkInputColumns(view, chunk, log, options);
    checked = true;
    for (const batch of chunk.batches) {
      batches.push(convertBatch(view, batch, rowBase, log, options));
      rowBase += batch.numRows;
    }
  };
  if (extension === '.csv') {
    try {
      for await (const chunk of csvChunks(createReadStream(path), chunkRows)) take(chunk);
    } catch (error) {
      if (error instanceof CsvInputError) log.fail({ row: null, column: null, message: `${path}: ${error.message}` });
      throw error;
    }
  } else {
    let schemaOnly: Table | undefined;
    try {
      for await (const { table } of readRowGroups(await openAsBlob(path), {}, path)) take(table);
      if (!checked) schemaOnly = tableFromIPC(parquet.readSchema(await readFile(path)).intoIPCStream());
    } catch (error) {
      if (error instanceof BatchValidationError) throw error;
      throw namedParquetError(path, error);
    }
    if (schemaOnly) take(schemaOnly);
  }
  log.throwIfAny();
  return batches.length > 0 ? new Table(batches) : new Table(viewSchema(view));
}

/** Rows of CSV typed at a time by readViewTable. */
export const CHUNK_ROWS = 65_536;

/**
 * Reads a user's .parquet or .csv file into an Arrow table, for toViewTable. CSV columns come
 * back as text (nulls for unquoted empty fields), typed later by the view.
 *
 * @example
 *   toViewTable(view, await readInputFile('data/user_spend.csv'))
 */
export async function readInputFile(path: string): Promise<Table> {
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') {
    try {
      return csvToTable(await readFile(path));
    } catch (error) {
      if (error instanceof CsvInputError) throw new CsvInputError(`${path}: ${error.message}`);
      throw error;
    }
  }
  if (extension !== '.parquet') throw new Error(`${path}: expected a .parquet or .csv file`);
  try {
    const batches: RecordBatch[] = [];
    for await (const { table } of readRowGroups(await openAsBlob(path), {}, path)) batches.push(...table.batches);
    if (batches.length > 0) return new Table(batches);
    return tableFromIPC(parquet.readSchema(await readFile(path)).intoIPCStream());
  } catch (error) {
    throw namedParquetError(path, error);
  }
}

/** A Parquet read error that names the file once (readRowGroups already prefixes its own). */
function namedParquetError(path: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${path}: `) ? (error as Error) : new Error(`${path}: cannot read the Parquet file: ${message}`, { cause: error });
}

function fromTable(view: FeatureView, input: Table, log: ProblemLog, options: ValidationOptions): Table {
  checkInputColumns(view, input, log, options);
  let rowBase = 0;
  const batches = input.batches.map((batch) => {
    const converted = convertBatch(view, batch, rowBase, log, options);
    rowBase += batch.numRows;
    return converted;
  });
  log.throwIfAny();
  return batches.length > 0 ? new Table(batches) : new Table(viewSchema(view));
}

function checkInputColumns(view: FeatureView, input: Table, log: ProblemLog, options: ValidationOptions): void {
  const names = input.schema.fields.map((f) => f.name);
  checkColumns(viewColumns(view), names, input.schema.fields.map((f) => f.type), log, options);
}

/** One input batch in the view's schema; its problems go to `log` with row numbers from `rowBase`. */
function convertBatch(view: FeatureView, batch: RecordBatch, rowBase: number, log: ProblemLog, options: ValidationOptions): RecordBatch {
  const columns = viewColumns(view);
  const index = new Map(batch.schema.fields.map((f, i) => [f.name, i]));
  const children = columns.map((column) => {
    const at = index.get(column.name);
    if (at === undefined) return nullColumn(column, batch.numRows);
    const data = convertArrowColumn(column, batch.data.children[at]!, (i, message) => log.add(rowBase + i + 1, column, message));
    checkNotFuture(column, data, options, (i, message) => log.add(rowBase + i + 1, column, message));
    return data;
  });
  return assemble(viewSchema(view), batch.numRows, children);
}

/** Event and created timestamps later than now + the skew are refused (a typo'd year would win every later write). */
function checkNotFuture(column: ViewColumn, data: Data, options: ValidationOptions, report: (index: number, message: string) => void): void {
  if (column.role !== 'eventTimestamp' && column.role !== 'createdTimestamp') return;
  const skew = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (skew === Infinity) return;
  const now = options.now ?? Date.now();
  const limit = now + skew;
  const times = timestampMillis(data, 0, data.length);
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (t > limit) {
      report(i, `${new Date(t).toISOString()} is later than now + ${formatSkew(skew)} (${new Date(limit).toISOString()}; setting ingest.maxFutureSkew)`);
    }
  }
}

function formatSkew(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

function fromRows(view: FeatureView, rows: readonly BatchRow[], log: ProblemLog, options: ValidationOptions): Table {
  const columns = viewColumns(view);
  const names = new Set<string>();
  for (const [i, row] of rows.entries()) {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      log.add(i + 1, null, `is not an object of column values (got ${row === null ? 'null' : Array.isArray(row) ? 'an array' : typeof row})`);
      continue;
    }
    for (const name of Object.keys(row)) names.add(name);
  }
  log.throwIfAny();
  if (rows.length === 0) return new Table(viewSchema(view));
  checkColumns(columns, [...names], null, log, options);
  const children = columns.map((column) => {
    if (!names.has(column.name)) return nullColumn(column, rows.length);
    const report = (i: number, message: string) => log.add(i + 1, column, message);
    const data = convertJsColumn(column, rows.length, (i) => rows[i]![column.name], report);
    checkNotFuture(column, data, options, report);
    return data;
  });
  log.throwIfAny();
  return new Table([assemble(viewSchema(view), rows.length, children)]);
}

/** Problems with the input's columns as a whole; throws before any row is looked at. */
function checkColumns(
  columns: readonly ViewColumn[],
  names: readonly string[],
  types: readonly DataType[] | null,
  log: ProblemLog,
  options: ValidationOptions,
): void {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    const column = byName.get(name);
    if (seen.has(name)) log.add(null, column ?? name, 'appears twice in the input');
    seen.add(name);
    if (!column) {
      log.add(null, name, `is not a column of the view (its columns: ${columns.map((c) => c.name).join(', ')})`);
      continue;
    }
    const wrongType = types ? incompatibility(column.type, types[i]!) : null;
    if (wrongType) log.add(null, column, wrongType);
  }
  const missingFeatures: string[] = [];
  for (const column of columns) {
    if (seen.has(column.name)) continue;
    if (column.role === 'joinKey') log.add(null, column, 'the join-key column is missing');
    else if (column.role === 'eventTimestamp') log.add(null, column, 'the event-timestamp column is missing');
    else if (column.role === 'feature' && !column.nullable) log.add(null, column, 'the column of a non-nullable feature is missing');
    else if (column.role === 'feature' && !options.allowMissingFeatures) missingFeatures.push(column.name);
  }
  if (missingFeatures.length > 0) {
    const list = missingFeatures.map((name) => `'${name}'`).join(', ');
    log.add(
      null,
      null,
      `feature column${missingFeatures.length > 1 ? 's' : ''} ${list} missing from the batch (every declared feature needs its column, nulls are fine; ` +
        'pass --allow-missing-features, or allowMissingFeatures: true to push, to store nulls for them)',
    );
  }
  log.throwIfAny();
}

function assemble(schema: ReturnType<typeof viewSchema>, length: number, children: Data[]): RecordBatch {
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}

/** Collects problems: all are counted, the first few of each column kept (enough to show the first rows). */
class ProblemLog {
  private readonly kept: BatchProblem[] = [];
  private readonly perColumn = new Map<string, number>();
  private count = 0;

  constructor(private readonly view: FeatureView) {}

  add(row: number | null, column: ViewColumn | string | null, message: string): void {
    this.count++;
    const name = typeof column === 'string' || column === null ? column : column.name;
    const key = name ?? '';
    const n = this.perColumn.get(key) ?? 0;
    if (n >= SHOWN_PROBLEMS) return;
    this.perColumn.set(key, n + 1);
    const declared = typeof column === 'object' && column !== null ? describeColumn(column) : undefined;
    this.kept.push({ row, column: name, ...(declared ? { declared } : {}), message });
  }

  fail(problem: BatchProblem): never {
    this.kept.push(problem);
    this.count++;
    this.throwIfAny();
    throw new Error('unreachable');
  }

  throwIfAny(): void {
    if (this.count === 0) return;
    const problems = [...this.kept].sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
    throw new BatchValidationError(this.view.name, problems, this.count);
  }
}

function describeColumn(column: ViewColumn): string {
  switch (column.role) {
    case 'joinKey':
      return `join key, ${column.type}`;
    case 'eventTimestamp':
      return 'event timestamp';
    case 'createdTimestamp':
      return 'created timestamp';
    case 'feature':
      return column.nullable ? column.type : `${column.type}, not null`;
  }
}
