import { Buffer } from 'node:buffer';
import { makeData, type Data, type DataType, type List } from 'apache-arrow';
import { parseValueType, type ScalarType, type ValueType } from '../definitions/value-type.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';
import { arrowTypeOf } from './view-schema.ts';

/**
 * Builds one Arrow column chunk from values already in their canonical JS form (see
 * FeatureValue; timestamps as ms numbers), writing the buffers directly: several times faster
 * than Arrow's builders for strings. The inverse of columnValues.
 *
 * @example
 *   buildColumn('list<int64>', [[1n, null], null]).length // => 2
 */
export function buildColumn(type: ValueType, values: readonly (FeatureValue | null)[], arrowType: DataType = arrowTypeOf(type)): Data {
  const parsed = parseValueType(type);
  if (!parsed) throw new TypeError(`unknown value type '${type}'`);
  const length = values.length;
  const { nullBitmap, nullCount } = validity(values);
  if (!parsed.list) return scalarColumn(parsed.scalar, arrowType, values, nullBitmap, nullCount);
  const valueOffsets = new Int32Array(length + 1);
  const items: (FeatureValue | null)[] = [];
  for (let i = 0; i < length; i++) {
    const list = values[i] as readonly (FeatureValue | null)[] | null;
    if (list !== null) for (const item of list) items.push(item);
    valueOffsets[i + 1] = items.length;
  }
  const childType = (arrowType as List).children[0]!.type;
  const child = buildColumn(parsed.scalar, items, childType);
  return makeData({ type: arrowType as List, length, nullCount, nullBitmap, valueOffsets, child });
}

function scalarColumn(
  scalar: ScalarType,
  type: DataType,
  values: readonly (FeatureValue | null)[],
  nullBitmap: Uint8Array,
  nullCount: number,
): Data {
  const length = values.length;
  const base = { type, length, nullCount, nullBitmap } as const;
  switch (scalar) {
    case 'int32':
    case 'float32':
    case 'float64': {
      const data = scalar === 'int32' ? new Int32Array(length) : scalar === 'float32' ? new Float32Array(length) : new Float64Array(length);
      for (let i = 0; i < length; i++) data[i] = (values[i] as number | null) ?? 0;
      return makeData({ ...base, data } as never);
    }
    case 'int64': {
      const data = new BigInt64Array(length);
      for (let i = 0; i < length; i++) data[i] = (values[i] as bigint | null) ?? 0n;
      return makeData({ ...base, data } as never);
    }
    case 'timestamp': {
      const data = new BigInt64Array(length);
      const halves = new Int32Array(data.buffer);
      for (let i = 0; i < length; i++) {
        const ms = (values[i] as number | null) ?? 0;
        const hi = Math.floor(ms / 4294967296);
        halves[2 * i] = ms - hi * 4294967296;
        halves[2 * i + 1] = hi;
      }
      return makeData({ ...base, data } as never);
    }
    case 'bool': {
      const data = new Uint8Array((length + 7) >> 3);
      for (let i = 0; i < length; i++) if (values[i] === true) data[i >> 3]! |= 1 << (i & 7);
      return makeData({ ...base, data } as never);
    }
    case 'string':
      return makeData({ ...base, ...stringBuffers(values as readonly (string | null)[]) } as never);
    case 'bytes': {
      const valueOffsets = new Int32Array(length + 1);
      for (let i = 0; i < length; i++) valueOffsets[i + 1] = valueOffsets[i]! + ((values[i] as Uint8Array | null)?.length ?? 0);
      const data = new Uint8Array(valueOffsets[length]!);
      for (let i = 0; i < length; i++) {
        const bytes = values[i] as Uint8Array | null;
        if (bytes) data.set(bytes, valueOffsets[i]!);
      }
      return makeData({ ...base, valueOffsets, data } as never);
    }
  }
}

function stringBuffers(values: readonly (string | null)[]): { valueOffsets: Int32Array; data: Uint8Array } {
  const length = values.length;
  const valueOffsets = new Int32Array(length + 1);
  const joined = values.map((s) => s ?? '').join('');
  const encoded = Buffer.from(joined, 'utf8');
  if (encoded.length === joined.length) {
    // All ASCII: byte offsets are char offsets, and one encode did the whole column.
    for (let i = 0; i < length; i++) valueOffsets[i + 1] = valueOffsets[i]! + (values[i]?.length ?? 0);
    return { valueOffsets, data: new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length) };
  }
  for (let i = 0; i < length; i++) valueOffsets[i + 1] = valueOffsets[i]! + Buffer.byteLength(values[i] ?? '', 'utf8');
  const data = Buffer.alloc(valueOffsets[length]!);
  for (let i = 0; i < length; i++) if (values[i]) data.write(values[i]!, valueOffsets[i]!, 'utf8');
  return { valueOffsets, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

function validity(values: readonly unknown[]): { nullBitmap: Uint8Array; nullCount: number } {
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === null || values[i] === undefined) nullCount++;
  if (nullCount === 0) return { nullBitmap: new Uint8Array(0), nullCount };
  const nullBitmap = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) if (values[i] !== null && values[i] !== undefined) nullBitmap[i >> 3]! |= 1 << (i & 7);
  return { nullBitmap, nullCount };
}
