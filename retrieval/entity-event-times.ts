import { makeVector, TimeUnit, Type, type Data, type Table, type Timestamp } from 'apache-arrow';
import { coerceValue, Invalid } from '../ingest/value-coercion.ts';

/**
 * The event timestamps of an entity table (the rows to build training data for) as ms since
 * epoch. Timestamp columns of any unit and dates convert buffer to buffer; text and numbers are
 * parsed as ingestion parses timestamps (ISO 8601, or epoch numbers with the unit by magnitude).
 * A missing column, a null or an unparsable cell is an error naming the row.
 *
 * @example
 *   entityEventTimes(tableFromArrays({ event_timestamp: ['2024-05-01T00:00:00Z'] }), 'event_timestamp')
 *   // => Float64Array [1714521600000]
 */
export function entityEventTimes(table: Table, column: string, what = 'entity table'): Float64Array {
  const index = table.schema.fields.findIndex((f) => f.name === column);
  if (index < 0) {
    throw new RangeError(
      `${what}: no event-timestamp column '${column}' (it has ${table.schema.fields.map((f) => f.name).join(', ')}); name it with eventTimestampColumn`,
    );
  }
  const out = new Float64Array(table.numRows);
  let at = 0;
  for (const batch of table.batches) {
    const data = batch.data.children[index]!;
    if (data.typeId === Type.Timestamp) fromTimestamps(data as Data<Timestamp>, out, at);
    else fromCells(data, out, at, column, what);
    for (let i = 0; i < data.length; i++) {
      if (data.nullCount > 0 && ((data.nullBitmap![(data.offset + i) >> 3]! >> ((data.offset + i) & 7)) & 1) === 0) {
        throw new RangeError(`${what}: row ${at + i + 1}, column '${column}': the event timestamp is null`);
      }
    }
    at += batch.numRows;
  }
  return out;
}

function fromTimestamps(data: Data<Timestamp>, out: Float64Array, at: number): void {
  const values = data.values as unknown as BigInt64Array;
  const halves = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
  const unit = data.type.unit;
  const divisor = unit === TimeUnit.SECOND ? 1e-3 : unit === TimeUnit.MILLISECOND ? 1 : unit === TimeUnit.MICROSECOND ? 1e3 : 1e6;
  for (let i = 0; i < data.length; i++) {
    const raw = halves[2 * i + 1]! * 4294967296 + (halves[2 * i]! >>> 0);
    out[at + i] = divisor === 1 ? raw : Math.floor(raw / divisor);
  }
}

function fromCells(data: Data, out: Float64Array, at: number, column: string, what: string): void {
  const vector = makeVector(data);
  const isDate = data.typeId === Type.Date;
  for (let i = 0; i < data.length; i++) {
    const raw: unknown = vector.get(i);
    if (raw === null || raw === undefined) continue; // reported by the caller
    const value = coerceValue('timestamp', isDate && typeof raw === 'number' ? new Date(raw) : raw);
    if (value instanceof Invalid) throw new RangeError(`${what}: row ${at + i + 1}, column '${column}': ${value.message}`);
    out[at + i] = value as number;
  }
}
