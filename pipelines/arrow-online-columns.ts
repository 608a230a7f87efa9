import type { Data, Table } from 'apache-arrow';
import { takeRows } from '../arrow/take-rows.ts';
import { timestampMillis } from '../arrow/column-values.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';
import type { OnlineColumns } from '../stores/online/online-store.ts';
import { tableToOnlineColumns } from './row-conversion.ts';

/**
 * Rows of a table picked by row number, as OnlineColumns that carry their Arrow source: the
 * times are read at once (two typed arrays), the feature values only if a store asks for them
 * (a layout-1 generation; a layout-2 one packs from the source, arrow-row-packer.ts), then as
 * tableToOnlineColumns over takeRows would give them. What a rebuild's build and verify send.
 *
 * @example
 *   const columns = arrowOnlineColumns(view, table, Int32Array.of(4, 0), ['u4', 'u0']);
 *   columns.eventTimes // => Float64Array [t4, t0]; columns.source // => { table, rows }
 */
export function arrowOnlineColumns(view: FeatureView, table: Table, rows: Int32Array, keys: readonly string[]): OnlineColumns {
  if (keys.length !== rows.length) throw new RangeError(`${keys.length} keys for ${rows.length} rows`);
  const eventTimes = timesAt(table, rows, columnNamed(view, table, view.source.eventTimestampColumn, true));
  const createdTimes = timesAt(table, rows, columnNamed(view, table, view.source.createdTimestampColumn, false));
  let values: OnlineColumns['values'] | undefined;
  return {
    keys,
    eventTimes,
    createdTimes,
    get values(): Readonly<Record<string, readonly (FeatureValue | null)[]>> {
      return (values ??= tableToOnlineColumns(view, takeRows(table, rows), keys).values);
    },
    source: { table, rows },
  };
}

function columnNamed(view: FeatureView, table: Table, name: string | null, required: boolean): number {
  const index = name === null ? -1 : table.schema.fields.findIndex((f) => f.name === name);
  if (index < 0 && required) throw new RangeError(`view '${view.name}': the table has no column '${name}'`);
  return index;
}

/** The timestamps (ms, nulls 0, as timestampMillis reads them) of the given rows of one column; all 0 without one. */
function timesAt(table: Table, rows: Int32Array, column: number): Float64Array {
  const out = new Float64Array(rows.length);
  if (column < 0 || rows.length === 0) return out;
  const chunks: { start: number; data: Data; halves: Int32Array }[] = [];
  let start = 0;
  for (const batch of table.batches) {
    const data = batch.data.children[column]!;
    timestampMillis(data, 0, 0); // checks the type and unit, as a full read would
    const values = data.values as BigInt64Array;
    chunks.push({ start, data, halves: new Int32Array(values.buffer, values.byteOffset, values.length * 2) });
    start += batch.numRows;
  }
  let c = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row < 0 || row >= start) throw new RangeError(`row ${row} is outside the table (0..${start - 1})`);
    if (row < chunks[c]!.start || (c + 1 < chunks.length && row >= chunks[c + 1]!.start)) {
      c = 0;
      while (c + 1 < chunks.length && chunks[c + 1]!.start <= row) c++;
    }
    const { data, halves } = chunks[c]!;
    const local = row - chunks[c]!.start;
    const bit = data.offset + local;
    if (data.nullCount > 0 && !(((data.nullBitmap as Uint8Array)[bit >> 3]! >> (bit & 7)) & 1)) continue;
    out[i] = halves[2 * local + 1]! * 4294967296 + (halves[2 * local]! >>> 0);
  }
  return out;
}
