import { Buffer, isAscii } from 'node:buffer';
import { Type, type Data } from 'apache-arrow';
import { parseValueType, type ScalarType, type ValueType } from '../definitions/value-type.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';

/**
 * Reads rows [start, end) of one Arrow column chunk (in a view schema's types) into the canonical
 * JS form of its value type, straight from the buffers: no per-cell `.get()`.
 *
 *   bool: boolean; int32, float32, float64: number; int64: bigint; string: string;
 *   bytes: Uint8Array (a view of the Arrow buffer, not a copy); timestamp: ms since epoch;
 *   list<T>: array of T (elements may be null); a null cell: null.
 *
 * @example
 *   columnValues(table.getChild('txn_count_7d')!.data[0]!, 'int64', 0, 2) // => [3n, null]
 */
export function columnValues(data: Data, type: ValueType, start: number, end: number): (FeatureValue | null)[] {
  const parsed = parseValueType(type);
  if (!parsed) throw new TypeError(`unknown value type '${type}'`);
  if (!parsed.list) return scalarValues(data, parsed.scalar, start, end);
  expectType(data, Type.List, type);
  const offsets = data.valueOffsets as Int32Array;
  const first = offsets[start]!;
  const items = scalarValues(data.children[0]!, parsed.scalar, first, offsets[end]!);
  const out = new Array<FeatureValue | null>(end - start);
  for (let i = start; i < end; i++) out[i - start] = items.slice(offsets[i]! - first, offsets[i + 1]! - first);
  return applyNulls(data, start, out);
}

/**
 * Rows [start, end) of a timestamp column as ms since epoch, nulls as 0. Exact for the range
 * of JS dates; reads 64-bit values as two 32-bit halves (much faster than Number(bigint)).
 */
export function timestampMillis(data: Data, start: number, end: number): Float64Array {
  expectType(data, Type.Timestamp, 'timestamp', 'Timestamp<MILLISECOND');
  const out = int64AsNumbers(data.values as BigInt64Array, start, end);
  if (data.nullCount > 0) {
    for (let i = start; i < end; i++) if (!isValid(data, i)) out[i - start] = 0;
  }
  return out;
}

function scalarValues(data: Data, scalar: ScalarType, start: number, end: number): (FeatureValue | null)[] {
  const n = end - start;
  let out: (FeatureValue | null)[];
  switch (scalar) {
    case 'int32':
    case 'float32':
    case 'float64': {
      expectType(data, scalar === 'int32' ? Type.Int : Type.Float, scalar, scalar === 'int32' ? 'Int32' : scalar === 'float32' ? 'Float32' : 'Float64');
      const values = data.values as Int32Array | Float32Array | Float64Array;
      out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = values[start + i]!;
      break;
    }
    case 'int64': {
      expectType(data, Type.Int, scalar, 'Int64');
      const values = data.values as BigInt64Array;
      out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = values[start + i]!;
      break;
    }
    case 'timestamp':
      out = Array.from(timestampMillis(data, start, end));
      break;
    case 'bool': {
      expectType(data, Type.Bool, scalar);
      const bits = data.values as Uint8Array;
      out = new Array(n);
      for (let i = 0, j = data.offset + start; i < n; i++, j++) out[i] = ((bits[j >> 3]! >> (j & 7)) & 1) === 1;
      break;
    }
    case 'string':
      expectType(data, Type.Utf8, scalar);
      out = stringValues(data, start, end);
      break;
    case 'bytes': {
      expectType(data, Type.Binary, scalar);
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes.subarray(offsets[start + i]!, offsets[start + i + 1]!);
      break;
    }
  }
  return applyNulls(data, start, out);
}

function stringValues(data: Data, start: number, end: number): string[] {
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const base = offsets[start]!;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset + base, offsets[end]! - base);
  const out = new Array<string>(end - start);
  if (isAscii(buffer)) {
    // One decode for the whole range, then cheap slices: byte offsets are char offsets in ASCII.
    const text = buffer.toString('latin1');
    for (let i = start; i < end; i++) out[i - start] = text.slice(offsets[i]! - base, offsets[i + 1]! - base);
  } else {
    for (let i = start; i < end; i++) out[i - start] = buffer.toString('utf8', offsets[i]! - base, offsets[i + 1]! - base);
  }
  return out;
}

/** Signed 64-bit integers as numbers via 32-bit halves: hi * 2^32 + unsigned lo. */
function int64AsNumbers(values: BigInt64Array, start: number, end: number): Float64Array {
  const halves = new Int32Array(values.buffer, values.byteOffset + start * 8, (end - start) * 2);
  const out = new Float64Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = halves[2 * i + 1]! * 4294967296 + (halves[2 * i]! >>> 0);
  return out;
}

function applyNulls<T>(data: Data, start: number, out: (T | null)[]): (T | null)[] {
  if (data.nullCount === 0) return out;
  for (let i = 0; i < out.length; i++) if (!isValid(data, start + i)) out[i] = null;
  return out;
}

function isValid(data: Data, i: number): boolean {
  const bits = data.nullBitmap as Uint8Array;
  const j = data.offset + i;
  return ((bits[j >> 3]! >> (j & 7)) & 1) === 1;
}

/** Checks the chunk's type (and, when given, the start of its name: width, unit) before reading raw buffers. */
function expectType(data: Data, typeId: Type, type: string, name?: string): void {
  if (data.typeId !== typeId || (name !== undefined && !String(data.type).startsWith(name))) {
    throw new TypeError(`a column of Arrow type ${data.type} cannot be read as ${type}`);
  }
}
