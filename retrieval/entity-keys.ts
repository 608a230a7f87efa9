import { Buffer, isAscii } from 'node:buffer';
import { makeVector, Type, type Data, type Table } from 'apache-arrow';
import type { JoinKeyType } from '../definitions/value-type.ts';
import { coerceValue, describe, Invalid } from '../ingest/value-coercion.ts';

/**
 * Entity keys in one comparable form, so a label row and a feature row of the same entity meet
 * whatever the label file's column types are (int32 for int64, text from a CSV): each join-key
 * cell is typed by the entity (as ingestion types it), then an int key becomes a number (a
 * decimal string beyond 2^53, exact either way) and a string key stays a string. A key of several
 * join keys joins its parts with '\u0000'. A null join key gives null: that row matches nothing.
 *
 * @example
 *   entityKeys(labels, [{ name: 'user_id', type: 'int64' }], 'entity table') // => [1, 2, 9007199254740993n as '9007199254740993', null]
 */
export type EntityKeyValue = number | string;

export interface JoinKeyColumn {
  readonly name: string;
  readonly type: JoinKeyType;
}

export function entityKeys(table: Table, keys: readonly JoinKeyColumn[], what: string): (EntityKeyValue | null)[] {
  const columns = keys.map((k) => {
    const index = table.schema.fields.findIndex((f) => f.name === k.name);
    if (index < 0) throw new RangeError(`${what}: no join-key column '${k.name}' (it has ${table.schema.fields.map((f) => f.name).join(', ')})`);
    return keyValues(table, index, k, what);
  });
  if (columns.length === 1) return columns[0]!;
  const out = new Array<EntityKeyValue | null>(table.numRows);
  for (let i = 0; i < out.length; i++) {
    let key = '';
    let isNull = false;
    for (let k = 0; k < columns.length; k++) {
      const part = columns[k]![i];
      if (part === null || part === undefined) {
        isNull = true;
        break;
      }
      key += k === 0 ? String(part) : `\u0000${part}`;
    }
    out[i] = isNull ? null : key;
  }
  return out;
}

function keyValues(table: Table, column: number, key: JoinKeyColumn, what: string): (EntityKeyValue | null)[] {
  const out = new Array<EntityKeyValue | null>(table.numRows);
  let at = 0;
  for (const batch of table.batches) {
    const data = batch.data.children[column]!;
    if (!fastKeys(data, key.type, out, at)) slowKeys(data, key, out, at, what);
    at += batch.numRows;
  }
  return out;
}

/** Straight from the buffers when the column already has the key's type; false otherwise. */
function fastKeys(data: Data, type: JoinKeyType, out: (EntityKeyValue | null)[], at: number): boolean {
  const n = data.length;
  const valid = (i: number): boolean => data.nullCount === 0 || ((data.nullBitmap![(data.offset + i) >> 3]! >> ((data.offset + i) & 7)) & 1) === 1;
  if (type === 'string' && data.typeId === Type.Utf8) {
    const offsets = data.valueOffsets as Int32Array;
    const bytes = data.values as Uint8Array;
    const base = offsets[0]!;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset + base, offsets[n]! - base);
    // One decode for the whole chunk, then slices: byte offsets are char offsets in ASCII.
    const text = isAscii(buffer) ? buffer.toString('latin1') : null;
    for (let i = 0; i < n; i++) {
      if (!valid(i)) out[at + i] = null;
      else if (text !== null) out[at + i] = text.slice(offsets[i]! - base, offsets[i + 1]! - base);
      else out[at + i] = buffer.toString('utf8', offsets[i]! - base, offsets[i + 1]! - base);
    }
    return true;
  }
  if (type === 'string' || data.typeId !== Type.Int) return false;
  const bits = (data.type as unknown as { bitWidth: number }).bitWidth;
  if (bits === 64) {
    const values = data.values as BigInt64Array;
    const halves = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
    for (let i = 0; i < n; i++) {
      if (!valid(i)) {
        out[at + i] = null;
        continue;
      }
      const hi = halves[2 * i + 1]!;
      const lo = halves[2 * i]! >>> 0;
      // |value| < 2^53 exactly when hi is within [-2^21, 2^21).
      out[at + i] = hi >= -2097152 && hi < 2097152 ? hi * 4294967296 + lo : values[i]!.toString();
    }
    return true;
  }
  if (bits <= 32 && (data.type as unknown as { isSigned: boolean }).isSigned) {
    const values = data.values as Int32Array | Int16Array | Int8Array;
    for (let i = 0; i < n; i++) out[at + i] = valid(i) ? values[i]! : null;
    return true;
  }
  return false;
}

/** Cell by cell through the ingestion coercion (text, unsigned or float columns). */
function slowKeys(data: Data, key: JoinKeyColumn, out: (EntityKeyValue | null)[], at: number, what: string): void {
  const vector = makeVector(data);
  for (let i = 0; i < data.length; i++) {
    const raw: unknown = vector.get(i);
    if (raw === null || raw === undefined) {
      out[at + i] = null;
      continue;
    }
    const value = coerceValue(key.type, raw);
    if (value instanceof Invalid) {
      throw new RangeError(`${what}: row ${at + i + 1}, join key '${key.name}' (${key.type}): ${value.message}`);
    }
    if (typeof value === 'bigint') out[at + i] = value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value.toString();
    else if (typeof value === 'number' || typeof value === 'string') out[at + i] = value;
    else throw new RangeError(`${what}: row ${at + i + 1}, join key '${key.name}': ${describe(raw)} is not a ${key.type}`);
  }
}
