import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { makeData, RecordBatch, Struct, Table, tableFromIPC, type Data, type DataType } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import type { FeatureView } from '../../definitions/feature-view.ts';
import { BatchValidationError, SHOWN_PROBLEMS, type BatchProblem } from './batch-validation-error.ts';
import { convertArrowColumn, convertJsColumn, incompatibility, nullColumn } from './convert-column.ts';
import { csvToTable, CsvInputError } from './csv-table.ts';
import { readRowGroups } from './read-row-groups.ts';
import { viewColumns, viewSchema, type ViewColumn } from './view-schema.ts';

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
 * missing column of a non-nullable feature; an Arrow column whose type cannot hold the declared
 * one; a null join key or event timestamp; a value that does not parse as its type or is out of
 * range; a null in a non-nullable feature. A missing created-timestamp column or nullable feature
 * column becomes nulls.
 *
 * @example
 *   toViewTable(userSpend, [{ user_id: 'u1', event_timestamp: '2024-05-01T00:00:00Z', spend_7d_avg: 12.5 }]).numRows // => 1
 *   toViewTable(userSpend, 'user_id,event_timestamp,spend_7d_avg\nu1,2024-05-01,abc\n')
 *   // throws BatchValidationError: view 'user_spend_features': 1 problem in the batch, nothing was written
 *   //   row 1, column 'spend_7d_avg' (float32): 'abc' is not a number
 */
export type BatchRow = Readonly<Record<string, unknown>>;

/** An Arrow table, row objects, or CSV text (header row first). */
export type BatchInput = Table | readonly BatchRow[] | string;

export function toViewTable(view: FeatureView, input: BatchInput): Table {
  const log = new ProblemLog(view);
  if (typeof input === 'string') {
    let table: Table;
    try {
      table = csvToTable(input);
    } catch (error) {
      if (error instanceof CsvInputError) log.fail({ row: null, column: null, message: error.message });
      throw error;
    }
    return fromTable(view, table, log);
  }
  if (input instanceof Table) return fromTable(view, input, log);
  if (Array.isArray(input)) return fromRows(view, input as readonly BatchRow[], log);
  return log.fail({ row: null, column: null, message: 'input must be an Arrow table, an array of row objects or CSV text' });
}

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
  const bytes = await readFile(path);
  const batches: RecordBatch[] = [];
  for await (const { table } of readRowGroups(new Blob([bytes]), {}, path)) batches.push(...table.batches);
  if (batches.length > 0) return new Table(batches);
  return tableFromIPC(parquet.readSchema(bytes).intoIPCStream());
}

function fromTable(view: FeatureView, input: Table, log: ProblemLog): Table {
  const columns = viewColumns(view);
  const names = input.schema.fields.map((f) => f.name);
  checkColumns(columns, names, input.schema.fields.map((f) => f.type), log);
  const index = new Map(names.map((name, i) => [name, i]));
  const schema = viewSchema(view);
  let rowBase = 0;
  const batches = input.batches.map((batch) => {
    const base = rowBase;
    const children = columns.map((column) => {
      const at = index.get(column.name);
      if (at === undefined) return nullColumn(column, batch.numRows);
      return convertArrowColumn(column, batch.data.children[at]!, (i, message) => log.add(base + i + 1, column, message));
    });
    rowBase += batch.numRows;
    return assemble(schema, batch.numRows, children);
  });
  log.throwIfAny();
  return batches.length > 0 ? new Table(batches) : new Table(schema);
}

function fromRows(view: FeatureView, rows: readonly BatchRow[], log: ProblemLog): Table {
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
  checkColumns(columns, [...names], null, log);
  const children = columns.map((column) =>
    names.has(column.name)
      ? convertJsColumn(column, rows.length, (i) => rows[i]![column.name], (i, message) => log.add(i + 1, column, message))
      : nullColumn(column, rows.length),
  );
  log.throwIfAny();
  return new Table([assemble(viewSchema(view), rows.length, children)]);
}

/** Problems with the input's columns as a whole; throws before any row is looked at. */
function checkColumns(columns: readonly ViewColumn[], names: readonly string[], types: readonly DataType[] | null, log: ProblemLog): void {
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
  for (const column of columns) {
    if (seen.has(column.name)) continue;
    if (column.role === 'joinKey') log.add(null, column, 'the join-key column is missing');
    else if (column.role === 'eventTimestamp') log.add(null, column, 'the event-timestamp column is missing');
    else if (column.role === 'feature' && !column.nullable) log.add(null, column, 'the column of a non-nullable feature is missing');
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
