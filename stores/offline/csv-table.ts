import { makeData, RecordBatch, Schema, Field, Struct, Table, Utf8 } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import { buildColumn } from './build-column.ts';

/**
 * Parses CSV text (with a header row) into an Arrow table of text columns, untyped: toViewTable
 * types each column by the view. An unquoted empty field is a null; a quoted one ("") is an
 * empty string. Throws CsvInputError for malformed CSV, naming the line.
 *
 * @example
 *   csvToTable('user_id,spend\nu1,12.5\nu2,\n').getChild('spend')!.toArray() // => ['12.5', null]
 */
export class CsvInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvInputError';
  }
}

export function csvToTable(text: string | Uint8Array): Table {
  let records: (string | null)[][];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      cast: (value, context) => (context.quoting || context.header || value !== '' ? value : null),
    }) as (string | null)[][];
  } catch (error) {
    throw new CsvInputError(`not valid CSV: ${(error as Error).message}`);
  }
  const header = records[0];
  if (!header) throw new CsvInputError('the CSV has no header row');
  const names = header.map((name) => (name ?? '').trim());
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (name === '') throw new CsvInputError(`header column ${i + 1} has no name`);
    if (seen.has(name)) throw new CsvInputError(`header names column '${name}' twice`);
    seen.add(name);
  }
  const rows = records.length - 1;
  const fields = names.map((name) => new Field(name, new Utf8(), true));
  const children = names.map((_, c) => {
    const values = new Array<string | null>(rows);
    for (let r = 0; r < rows; r++) values[r] = records[r + 1]![c] ?? null;
    return buildColumn('string', values);
  });
  const schema = new Schema(fields);
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }))]);
}
