import { makeData, RecordBatch, Struct, Table, type Data, type Schema } from 'apache-arrow';
import { buildColumn } from '../arrow/build-column.ts';
import { takeRows } from '../arrow/take-rows.ts';
import type { ViewColumn } from '../arrow/view-schema.ts';

/**
 * Copies the given rows of a table into one batch in the given order, like takeRows, where row
 * -1 gives a null in every column (a label with no feature row in range). `columns` type the
 * nulls when the table has no rows at all.
 *
 * @example
 *   takeOrNull(features, Int32Array.of(2, -1), columns).getChild('spend_7d_avg')!.toArray() // => [12.5, null]
 */
export function takeOrNull(table: Table, rows: Int32Array, columns: readonly ViewColumn[], schema: Schema = table.schema): Table {
  const n = rows.length;
  if (table.numRows === 0) {
    const children = columns.map((c) => buildColumn(c.type, new Array<null>(n).fill(null)));
    return new Table([new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }))]);
  }
  let missing = 0;
  const safe = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    if (row < 0) missing++;
    else safe[i] = row;
  }
  const taken = takeRows(table, safe);
  if (missing === 0 || n === 0) return new Table([new RecordBatch(schema, taken.batches[0]!.data)]);
  const children = taken.batches[0]!.data.children.map((data) => withNulls(data, rows));
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

/** The column with row i made null where rows[i] < 0 (its other nulls kept). */
function withNulls(data: Data, rows: Int32Array): Data {
  const n = rows.length;
  const bitmap = new Uint8Array((data.offset + n + 7) >> 3);
  const old = data.nullCount > 0 ? (data.nullBitmap as Uint8Array) : null;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const j = data.offset + i;
    const valid = rows[i]! >= 0 && (old === null || ((old[j >> 3]! >> (j & 7)) & 1) === 1);
    if (valid) bitmap[j >> 3]! |= 1 << (j & 7);
    else nulls++;
  }
  return data.clone(data.type, data.offset, n, nulls, [data.valueOffsets, data.values, bitmap, data.typeIds] as never, data.children);
}
