import { checkValue } from '../../definitions/check-value.ts';
import { parseValueType, type ScalarType, type ValueType } from '../../definitions/value-type.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';

/**
 * Feature values as Redis strings, per value type. Every round trip is exact (float64 keeps -0,
 * NaN and infinities; float32 values are rounded to float32 on the way in, as a float32 column
 * holds them). A null is never encoded: it is an absent hash field.
 *
 *   bool       '1' | '0'
 *   int32      decimal                      number
 *   int64      decimal                      bigint (a safe-integer number is accepted on write)
 *   float32    shortest decimal of fround   number
 *   float64    shortest decimal, '-0'       number
 *   string     as is (UTF-8)                string
 *   bytes      base64                       Uint8Array
 *   timestamp  decimal ms                   number (ms since epoch)
 *   list<T>    JSON array; null elements are null; int64 elements are decimal strings, bytes
 *              base64 strings, non-finite or -0 floats strings ('NaN', '-0'), the rest JSON
 *
 * @example
 *   const codec = valueCodec('list<int64>');
 *   codec.encode([1n, null, -2n]) // => '["1",null,"-2"]'
 *   codec.decode('["1",null,"-2"]') // => [1n, null, -2n]
 */
export interface ValueCodec {
  readonly type: ValueType;
  /** Throws a TypeError naming the type when the value does not fit it. */
  encode(value: FeatureValue): string;
  decode(text: string): FeatureValue;
}

type Json = boolean | number | string;

interface ScalarCodec {
  encode(value: unknown): string;
  decode(text: string): FeatureValue;
  toJson(value: unknown): Json;
  fromJson(json: Json): FeatureValue;
}

const codecs = new Map<ValueType, ValueCodec>();

/** The codec of a value type (cached: call it freely). */
export function valueCodec(type: ValueType): ValueCodec {
  let codec = codecs.get(type);
  if (!codec) {
    const parsed = parseValueType(type);
    if (!parsed) throw new TypeError(`unknown value type '${String(type)}'`);
    codec = Object.freeze(parsed.list ? listCodec(type, parsed.scalar) : scalarCodec(type, SCALARS[parsed.scalar]));
    codecs.set(type, codec);
  }
  return codec;
}

function scalarCodec(type: ValueType, scalar: ScalarCodec): ValueCodec {
  return { type, encode: (value) => scalar.encode(value), decode: (text) => scalar.decode(text) };
}

function listCodec(type: ValueType, element: ScalarType): ValueCodec {
  const scalar = SCALARS[element];
  return {
    type,
    encode(value) {
      if (!Array.isArray(value)) fail(type, value);
      const out = new Array<Json | null>(value.length);
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        out[i] = item === null || item === undefined ? null : scalar.toJson(item);
      }
      return JSON.stringify(out);
    },
    decode(text) {
      const items = JSON.parse(text) as (Json | null)[];
      const out = new Array<FeatureValue | null>(items.length);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        out[i] = item === null ? null : scalar.fromJson(item);
      }
      return out;
    },
  };
}

const SCALARS: Record<ScalarType, ScalarCodec> = {
  bool: {
    encode: (v) => (checked<boolean>('bool', v) ? '1' : '0'),
    decode: (s) => s === '1',
    toJson: (v) => checked<boolean>('bool', v),
    fromJson: (j) => j as boolean,
  },
  int32: {
    encode: (v) => String(checkInt32(v)),
    decode: Number,
    toJson: checkInt32,
    fromJson: (j) => j as number,
  },
  int64: {
    encode: (v) => checkInt64(v).toString(),
    decode: BigInt,
    toJson: (v) => checkInt64(v).toString(),
    fromJson: (j) => BigInt(j as string),
  },
  float32: {
    encode: (v) => encodeFloat(Math.fround(checkNumber('float32', v))),
    decode: Number,
    toJson: (v) => floatToJson(Math.fround(checkNumber('float32', v))),
    fromJson: (j) => (typeof j === 'string' ? Number(j) : (j as number)),
  },
  float64: {
    encode: (v) => encodeFloat(checkNumber('float64', v)),
    decode: Number,
    toJson: (v) => floatToJson(checkNumber('float64', v)),
    fromJson: (j) => (typeof j === 'string' ? Number(j) : (j as number)),
  },
  string: {
    encode: (v) => checked<string>('string', v),
    decode: (s) => s,
    toJson: (v) => checked<string>('string', v),
    fromJson: (j) => j as string,
  },
  bytes: {
    encode: encodeBytes,
    decode: decodeBytes,
    toJson: encodeBytes,
    fromJson: (j) => decodeBytes(j as string),
  },
  timestamp: {
    encode: (v) => encodeFloat(checkNumber('timestamp', v)),
    decode: Number,
    toJson: (v) => floatToJson(checkNumber('timestamp', v)),
    fromJson: (j) => (typeof j === 'string' ? Number(j) : (j as number)),
  },
};

/** `v` when checkValue says it has the scalar type's form, else the codec's TypeError (fail). */
function checked<T>(type: ScalarType, v: unknown): T {
  return checkValue(type, v) === undefined ? (v as T) : fail(type, v);
}

/** An int32 number, -0 stored as 0. */
function checkInt32(v: unknown): number {
  const n = checked<number>('int32', v);
  return n === 0 ? 0 : n;
}

/** An int64 bigint, or a safe-integer number (-0 stored as 0). */
function checkInt64(v: unknown): bigint | number {
  const n = checked<bigint | number>('int64', v);
  return n === 0 ? 0 : n;
}

/**
 * float32 and float64: checkValue's rule (any number). timestamp: any number too, NaN included,
 * as the codec always took it; checkValue's timestamp is finite, but ingest only produces finite
 * ms, so the codec keeps its own, looser test here (no behaviour change).
 */
function checkNumber(type: 'float32' | 'float64' | 'timestamp', v: unknown): number {
  if (type === 'timestamp') return typeof v === 'number' ? v : fail(type, v);
  return checked<number>(type, v);
}

/** String(x) is the shortest exact decimal of a double, except that it drops the sign of -0. */
function encodeFloat(v: number): string {
  return v === 0 && 1 / v < 0 ? '-0' : String(v);
}

/** JSON numbers for plain values; NaN, infinities and -0 (which JSON cannot hold) as strings. */
function floatToJson(v: number): Json {
  return Number.isFinite(v) && !(v === 0 && 1 / v < 0) ? v : encodeFloat(v);
}

function encodeBytes(v: unknown): string {
  const bytes = checked<Uint8Array>('bytes', v);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function decodeBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function fail(type: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new TypeError(`expected ${type}, got ${typeof value} ${shown.length > 60 ? shown.slice(0, 57) + '...' : shown}`);
}
