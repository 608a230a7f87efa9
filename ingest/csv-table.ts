import { makeData, RecordBatch, Schema, Field, Struct, Table, Utf8 } from 'apache-arrow';
import type { Readable } from 'node:stream';
import { parse as parseStream, type Options } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { buildColumn } from '../arrow/build-column.ts';

/** A CSV input that cannot be read as a table. */
export class CsvInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvInputError';
  }
}

const PARSE_OPTIONS: Options = {
  bom: true,
  skip_empty_lines: true,
  cast: (value, context) => (context.quoting || context.header || value !== '' ? value : null),
};

/**
 * Parses CSV text (with a header row) into an Arrow table of text columns, untyped: toViewTable
 * types each column by the view. An unquoted empty field is a null; a quoted one ("") is an
 * empty string. Throws CsvInputError for malformed CSV, naming the line.
 *
 * @example
 *   csvToTable('user_id,spend\nu1,12.5\nu2,\n').getChild('spend')!.toArray() // => ['12.5', null]
 */
export function csvToTable(text: string | Uint8Array): Table {
  let records: (string | null)[][];
  try {
    records = parse(text, PARSE_OPTIONS) as (string | null)[][];
  } catch (error) {
    throw new CsvInputError(`not valid CSV: ${(error as Error).message}`);
  }
  const header = records[0];
  if (!header) throw new CsvInputError('the CSV has no header row');
  const names = headerNames(header);
  return textTable(names, records, 1, records.length);
}

/**
 * The same parse as csvToTable, as a stream: one table of text columns per `chunkRows` data rows
 * (the last may be shorter; a CSV with a header only gives one empty table), so a large file is
 * never held whole as text. The source is closed when the caller stops early.
 *
 * @example
 *   for await (const chunk of csvChunks(createReadStream('big.csv'), 65_536)) console.log(chunk.numRows);
 */
export async function* csvChunks(source: Readable, chunkRows: number): AsyncGenerator<Table> {
  const parser = parseStream(PARSE_OPTIONS);
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  let names: string[] | undefined;
  let records: (string | null)[][] = [];
  let yielded = false;
  try {
    for await (const record of parser as AsyncIterable<(string | null)[]>) {
      if (!names) {
        names = headerNames(record);
        continue;
      }
      records.push(record);
      if (records.length >= chunkRows) {
        yield textTable(names, records, 0, records.length);
        yielded = true;
        records = [];
      }
    }
  } catch (error) {
    if (error instanceof CsvInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code && !code.startsWith('CSV_') && code !== 'INVALID_OPENING_QUOTE') throw error;
    throw new CsvInputError(`not valid CSV: ${(error as Error).message}`);
  } finally {
    source.unpipe(parser);
    source.destroy();
    parser.destroy();
  }
  if (!names) throw new CsvInputError('the CSV has no header row');
  if (records.length > 0 || !yielded) yield textTable(names, records, 0, records.length);
}

function headerNames(header: readonly (string | null)[]): string[] {
  const names = header.map((name) => (name ?? '').trim());
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (name === '') throw new CsvInputError(`header column ${i + 1} has no name`);
    if (seen.has(name)) throw new CsvInputError(`header names column '${name}' twice`);
    seen.add(name);
  }
  return names;
}

/** Records [from, to) as one batch of nullable text columns named `names`. */
function textTable(names: readonly string[], records: readonly (readonly (string | null)[])[], from: number, to: number): Table {
  const rows = to - from;
  const fields = names.map((name) => new Field(name, new Utf8(), true));
  const children = names.map((_, c) => {
    const values = new Array<string | null>(rows);
    for (let r = 0; r < rows; r++) values[r] = records[from + r]![c] ?? null;
    return buildColumn('string', values);
  });
  const schema = new Schema(fields);
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }))]);
}
