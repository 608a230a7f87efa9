import { isUtf8 } from 'node:buffer';
import { Type, type Data, type Table } from 'apache-arrow';
import { columnValues } from '../../arrow/column-values.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';
import { writeList, writeScalar, Writer, type PackedFeature, type PackedRowCodec } from './packed-row-codec.ts';
import type { PackedRows } from './packed-rows.ts';
import { chunkOf } from '../../arrow/take-rows.ts';

/** Rows of an Arrow table by index, in the order to pack them (online-store.ts OnlineColumns.source). */
export interface ArrowRows {
  readonly table: Table;
  /** Row numbers of `table` (over all its batches); row i of the columns is table row rows[i]. */
  readonly rows: Int32Array;
}

/** How one feature column of one batch is read: straight from its buffers, or through columnValues. */
type Reader =
  | { readonly kind: 'absent' }
  | { readonly kind: 'float64' | 'float32' | 'int32' | 'bool'; readonly data: Data; readonly values: Float64Array | Float32Array | Int32Array | Uint8Array }
  | { readonly kind: 'int64' | 'timestamp'; readonly data: Data; readonly halves: Int32Array }
  | { readonly kind: 'binary'; readonly data: Data; readonly offsets: Int32Array; readonly values: Uint8Array }
  | { readonly kind: 'generic'; readonly data: Data; values?: (FeatureValue | null)[] };

/**
 * Packs rows of an Arrow table straight from its column buffers into one Buffer, the same bytes
 * PackedRowCodec.encode gives for the values tableToOnlineColumns would read (the test pins
 * this over every type): no value object, no Buffer per row, no conversion to JS values for
 * numbers, booleans, strings, bytes and timestamps. Other columns (lists, a type that does not
 * match the feature's, which then fails as columnValues fails) go through columnValues, once per
 * batch. The write (redis-online-store.ts writeNewRows) and verify's compare of a rebuild both
 * pack this way, so equal rows are equal bytes.
 *
 * Features are the codec's (the generation's packing order); a feature not in `present` (the
 * view's own features) or without a column in the table is null, as tableToOnlineColumns leaves it.
 *
 * @example
 *   const packed = packArrowRows(codec, new Set(['spend', 'orders']), { table, rows: Int32Array.of(4, 0) }, eventTimes, createdTimes);
 *   packed.bytes.subarray(0, packed.ends[0]) // => codec.encode(eventTimes[0], createdTimes[0], (f) => values of table row 4)
 */
export function packArrowRows(
  codec: PackedRowCodec,
  present: ReadonlySet<string>,
  source: ArrowRows,
  eventTimes: ArrayLike<number>,
  createdTimes: ArrayLike<number>,
): PackedRows {
  const { table, rows } = source;
  const features = codec.features;
  const starts: number[] = [];
  let total = 0;
  for (const b of table.batches) {
    starts.push(total);
    total += b.numRows;
  }
  const columnOf = features.map((f) => (present.has(f.name) ? table.schema.fields.findIndex((field) => field.name === f.name) : -1));
  const readers = table.batches.map((batch) => features.map((f, i) => readerOf(columnOf[i]! < 0 ? undefined : batch.data.children[columnOf[i]!], f)));
  const bitmapBytes = (features.length + 7) >> 3;
  const w = new Writer(Buffer.allocUnsafe(Math.max(256, rows.length * (24 + features.length * 9))));
  const ends = new Int32Array(rows.length);
  const refused = new Map<number, string>();
  let c = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row < 0 || row >= total) throw new RangeError(`row ${row} is outside the table (0..${total - 1})`);
    if (row < starts[c]! || (c + 1 < starts.length && row >= starts[c + 1]!)) c = chunkOf(starts, row);
    const local = row - starts[c]!;
    const start = w.at;
    w.double(eventTimes[i]!);
    w.double(createdTimes[i]!);
    w.varint(features.length);
    const bitmapAt = w.skip(bitmapBytes);
    const batchReaders = readers[c]!;
    for (let f = 0; f < features.length; f++) {
      const reader = batchReaders[f]!;
      if (reader.kind === 'absent') continue;
      const data = reader.data;
      // As column-values.ts reads Arrow JS: bitmaps (validity, bool) from data.offset; values
      // and value offsets already sliced to the chunk.
      const bit = data.offset + local;
      if (data.nullCount > 0 && !(((data.nullBitmap as Uint8Array)[bit >> 3]! >> (bit & 7)) & 1)) continue;
      switch (reader.kind) {
        case 'float64':
          w.double(reader.values[local]!);
          break;
        case 'float32':
          w.float(reader.values[local]!);
          break;
        case 'int32':
          w.int32(reader.values[local]!);
          break;
        case 'bool':
          w.byte((reader.values[bit >> 3]! >> (bit & 7)) & 1);
          break;
        case 'int64':
          w.int64Halves(reader.halves[2 * local + 1]!, reader.halves[2 * local]!);
          break;
        case 'timestamp':
          w.double(reader.halves[2 * local + 1]! * 4294967296 + (reader.halves[2 * local]! >>> 0));
          break;
        case 'binary':
          w.bytesOf(reader.values, reader.offsets[local]!, reader.offsets[local + 1]!);
          break;
        case 'generic': {
          const value = (reader.values ??= columnValues(data, features[f]!.type, 0, data.length))[local];
          if (value === null || value === undefined) continue;
          const feature = features[f]!;
          try {
            if (feature.list) writeList(w, feature, value);
            else writeScalar(w, feature.scalar, value);
          } catch (error) {
            refused.set(i, `feature '${feature.name}' (${feature.type}): ${(error as Error).message}`);
          }
          break;
        }
      }
      w.setBit(bitmapAt, f);
    }
    if (refused.has(i)) w.at = start;
    ends[i] = w.at;
  }
  return { bytes: w.buffer, ends, refused };
}

/** The fast reader of a column chunk for a feature when its Arrow type is exactly the feature's, else generic. */
function readerOf(data: Data | undefined, feature: PackedFeature): Reader {
  if (!data) return { kind: 'absent' };
  if (feature.list) return { kind: 'generic', data };
  const type = data.type as { bitWidth?: number; isSigned?: boolean; precision?: number; unit?: number };
  switch (feature.scalar) {
    case 'float64':
      if (data.typeId === Type.Float && type.precision === 2) return { kind: 'float64', data, values: data.values as Float64Array };
      break;
    case 'float32':
      if (data.typeId === Type.Float && type.precision === 1) return { kind: 'float32', data, values: data.values as Float32Array };
      break;
    case 'int32':
      if (data.typeId === Type.Int && type.bitWidth === 32 && type.isSigned) return { kind: 'int32', data, values: data.values as Int32Array };
      break;
    case 'int64':
      if (data.typeId === Type.Int && type.bitWidth === 64 && type.isSigned) return { kind: 'int64', data, halves: halvesOf(data.values as BigInt64Array) };
      break;
    case 'timestamp':
      // TimeUnit.MILLISECOND (1): what columnValues accepts.
      if (data.typeId === Type.Timestamp && type.unit === 1) return { kind: 'timestamp', data, halves: halvesOf(data.values as BigInt64Array) };
      break;
    case 'bool':
      if (data.typeId === Type.Bool) return { kind: 'bool', data, values: data.values as Uint8Array };
      break;
    case 'string':
      // Bytes copied as they are only when they are UTF-8 (a decode and encode would change others).
      if (data.typeId === Type.Utf8 && isUtf8(data.values as Uint8Array)) return { kind: 'binary', data, offsets: data.valueOffsets as Int32Array, values: data.values as Uint8Array };
      break;
    case 'bytes':
      if (data.typeId === Type.Binary) return { kind: 'binary', data, offsets: data.valueOffsets as Int32Array, values: data.values as Uint8Array };
      break;
  }
  return { kind: 'generic', data };
}

function halvesOf(values: BigInt64Array): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, values.length * 2);
}

