import { makeData, makeVector, Precision, TimeUnit, Type, DateUnit, type Data, type DataType, type List } from 'apache-arrow';
import { parseValueType, type ScalarType, type ValueType } from '../definitions/value-type.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';
import { buildColumn } from '../arrow/build-column.ts';
import { coerceValue, floatProblem, Invalid } from './value-coercion.ts';
import { arrowTypeOf, type ViewColumn } from '../arrow/view-schema.ts';

/** Reports a bad cell of a chunk: its index within the chunk, and what is wrong. */
export type ReportProblem = (index: number, message: string) => void;

/** Why an Arrow column of this type cannot feed a column of the target type, or null when it can. */
export function incompatibility(target: ValueType, source: DataType): string | null {
  if (isText(source) || source.typeId === Type.Null) return null;
  const parsed = parseValueType(target)!;
  const cannot = `has type ${source} in the input, which cannot hold ${target}`;
  if (parsed.list) {
    if (source.typeId !== Type.List && source.typeId !== Type.FixedSizeList && source.typeId !== Type.LargeList) return cannot;
    return incompatibility(parsed.scalar, source.children[0]!.type) === null ? null : cannot;
  }
  const id = source.typeId;
  const ok: Record<ScalarType, boolean> = {
    int32: id === Type.Int || id === Type.Float,
    int64: id === Type.Int || id === Type.Float,
    float32: id === Type.Int || id === Type.Float,
    float64: id === Type.Int || id === Type.Float,
    bool: id === Type.Bool,
    string: false,
    bytes: id === Type.Binary || id === Type.LargeBinary || id === Type.FixedSizeBinary || id === Type.BinaryView,
    timestamp: id === Type.Timestamp || id === Type.Date || id === Type.Int || id === Type.Float,
  };
  return ok[parsed.scalar] ? null : cannot;
}

/** Text columns (CSV, strings in Parquet) feed any type: each cell is parsed. */
function isText(type: DataType): boolean {
  const id = type.typeId;
  if (id === Type.Dictionary) return isText((type as DataType & { dictionary: DataType }).dictionary);
  return id === Type.Utf8 || id === Type.LargeUtf8 || id === Type.Utf8View;
}

/**
 * Converts one input column chunk into a view column of its declared type. Arrow columns of a
 * matching or plainly widening type (int32 -> int64, float64 -> float32, timestamps in s/µs/ns
 * -> ms, dates) convert buffer to buffer; text and everything else goes cell by cell through
 * coerceValue. Bad cells and nulls in non-nullable columns are reported by index within the chunk.
 *
 * @example
 *   convertArrowColumn(column, data, (i, message) => problems.push({ row: i + 1, message }))
 */
export function convertArrowColumn(column: ViewColumn, data: Data, report: ReportProblem): Data {
  const target = arrowTypeOf(column.type);
  const fast = fastConvert(column.type, target, data);
  // A float that overflowed the narrowing (1e39 into float32) or is NaN/infinite where the feature
  // does not allow it: the cell-by-cell path says which row and value.
  if (!fast || !floatsFit(column, data, fast)) return convertCells(column, target, data.length, cellReader(data), report);
  reportNulls(column, fast, report);
  return fast;
}

/** Converts JS values (row objects' fields); `cell(i)` of null or undefined is a null. */
export function convertJsColumn(column: ViewColumn, length: number, cell: (i: number) => unknown, report: ReportProblem): Data {
  return convertCells(column, arrowTypeOf(column.type), length, cell, report);
}

/** Cell by cell; a bad cell is reported once (as bad, not also as a null). */
function convertCells(column: ViewColumn, target: DataType, length: number, cell: (i: number) => unknown, report: ReportProblem): Data {
  const { type } = column;
  const nullProblem = column.nullable ? null : nullMessage(column);
  const values = new Array<FeatureValue | null>(length);
  const options = { allowNonFinite: column.allowNonFinite === true };
  for (let i = 0; i < length; i++) {
    const raw = cell(i);
    if (raw === null || raw === undefined) {
      if (nullProblem) report(i, nullProblem);
      values[i] = null;
      continue;
    }
    const value = coerceValue(type, raw, options);
    if (value instanceof Invalid) {
      report(i, value.message);
      values[i] = null;
    } else {
      values[i] = value;
    }
  }
  return buildColumn(type, values, target);
}

function cellReader(data: Data): (i: number) => unknown {
  const vector = makeVector(data);
  return (i) => vector.get(i);
}

function nullMessage(column: ViewColumn): string {
  if (column.role === 'joinKey') return 'the join key is null or missing';
  if (column.role === 'eventTimestamp') return 'the event timestamp is null or missing';
  return 'null in a non-nullable feature';
}

function reportNulls(column: ViewColumn, data: Data, report: ReportProblem): void {
  if (column.nullable || data.nullCount === 0) return;
  const message = nullMessage(column);
  const bits = data.nullBitmap as Uint8Array;
  for (let i = 0; i < data.length; i++) {
    const j = data.offset + i;
    if (((bits[j >> 3]! >> (j & 7)) & 1) === 0) report(i, message);
  }
}

/**
 * Whether every valid float of a fast-converted column is one the feature may hold: finite (a
 * finite source that became infinite overflowed the target), or non-finite where allowed.
 * Always true for other types.
 */
function floatsFit(column: ViewColumn, source: Data, converted: Data): boolean {
  const parsed = parseValueType(column.type)!;
  if (parsed.scalar !== 'float32' && parsed.scalar !== 'float64') return true;
  const values = (parsed.list ? converted.children[0]! : converted).values as Float32Array | Float64Array;
  const valid = parsed.list ? converted.children[0]! : converted;
  const options = { allowNonFinite: column.allowNonFinite === true };
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) continue;
    if (valid.nullCount > 0 && !isValidAt(valid, i)) continue;
    const sourceValues = (parsed.list ? source.children[0]! : source).values as ArrayLike<number | bigint>;
    const original = Number(sourceValues[i]!);
    // A finite source value that became infinite did not fit; a non-finite one must be allowed.
    if (Number.isFinite(original) || floatProblem(parsed.scalar, v, v, options) !== null) return false;
  }
  return true;
}

function isValidAt(data: Data, i: number): boolean {
  const bits = data.nullBitmap as Uint8Array;
  const j = data.offset + i;
  return ((bits[j >> 3]! >> (j & 7)) & 1) === 1;
}

/** Buffer-to-buffer conversion when the source type allows it, else undefined. */
function fastConvert(type: ValueType, target: DataType, data: Data): Data | undefined {
  if (data.offset !== 0) return undefined;
  const parsed = parseValueType(type)!;
  if (!parsed.list) return fastScalar(parsed.scalar, target, data);
  const child = data.children[0];
  if (data.typeId !== Type.List || !child) return undefined;
  const items = fastScalar(parsed.scalar, (target as List).children[0]!.type, child);
  if (!items) return undefined;
  return makeData({ type: target as List, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap, valueOffsets: data.valueOffsets as Int32Array, child: items });
}

function fastScalar(scalar: ScalarType, target: DataType, data: Data): Data | undefined {
  if (data.offset !== 0) return undefined;
  const source = data.type as DataType & { bitWidth?: number; isSigned?: boolean; precision?: Precision; unit?: number };
  const base = { type: target, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap };
  const make = (values: ArrayBufferView, offsets?: Int32Array): Data =>
    makeData({ ...base, data: values, ...(offsets ? { valueOffsets: offsets } : {}) } as never);
  const int = source.typeId === Type.Int;
  const narrowInt = int && (source.bitWidth! < 32 || (source.bitWidth === 32 && source.isSigned === true));
  const int32OrNarrower = int && source.bitWidth! <= 32;
  switch (scalar) {
    case 'int32':
      if (narrowInt) return make(source.bitWidth === 32 ? (data.values as Int32Array) : Int32Array.from(data.values as Int16Array));
      return undefined;
    case 'int64':
      if (int && source.bitWidth === 64 && source.isSigned) return make(data.values as BigInt64Array);
      if (int32OrNarrower) return make(widenToInt64(data.values as Int32Array, source.isSigned === true));
      return undefined;
    case 'float32':
    case 'float64': {
      const Out = scalar === 'float32' ? Float32Array : Float64Array;
      const same = source.typeId === Type.Float && source.precision === (scalar === 'float32' ? Precision.SINGLE : Precision.DOUBLE);
      if (same) return make(data.values as Float32Array);
      if ((source.typeId === Type.Float && source.precision !== Precision.HALF) || int32OrNarrower) return make(Out.from(data.values as Float64Array));
      return undefined;
    }
    case 'bool':
      return source.typeId === Type.Bool ? make(data.values as Uint8Array) : undefined;
    case 'string':
      return source.typeId === Type.Utf8 ? make(data.values as Uint8Array, data.valueOffsets as Int32Array) : undefined;
    case 'bytes':
      return source.typeId === Type.Binary ? make(data.values as Uint8Array, data.valueOffsets as Int32Array) : undefined;
    case 'timestamp':
      if (source.typeId === Type.Timestamp) return make(toMillis(data.values as BigInt64Array, source.unit as TimeUnit));
      if (source.typeId === Type.Date && source.unit === DateUnit.MILLISECOND) return make(data.values as BigInt64Array);
      if (source.typeId === Type.Date) return make(daysToMillis(data.values as Int32Array));
      return undefined;
  }
}

function widenToInt64(values: Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array, signed: boolean): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const halves = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    halves[2 * i] = v;
    halves[2 * i + 1] = signed && v < 0 ? -1 : 0;
  }
  return out;
}

function daysToMillis(days: Int32Array): BigInt64Array {
  const out = new BigInt64Array(days.length);
  for (let i = 0; i < days.length; i++) out[i] = BigInt(days[i]!) * 86_400_000n;
  return out;
}

/** Timestamps in any unit to ms, rounding toward the past. */
function toMillis(values: BigInt64Array, unit: TimeUnit): BigInt64Array {
  if (unit === TimeUnit.MILLISECOND) return values;
  const out = new BigInt64Array(values.length);
  if (unit === TimeUnit.SECOND) {
    for (let i = 0; i < values.length; i++) out[i] = values[i]! * 1000n;
    return out;
  }
  const divisor = unit === TimeUnit.MICROSECOND ? 1000n : 1_000_000n;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const q = v / divisor;
    out[i] = v < 0n && q * divisor !== v ? q - 1n : q;
  }
  return out;
}
