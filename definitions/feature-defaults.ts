import { checkValue, describeValue } from './check-value.ts';
import { INT64_MAX, INT64_MIN, parseValueType, type ScalarType, type ValueType } from './value-type.ts';

/**
 * The default values a feature service may declare, served in place of a missing (NOT_FOUND) or
 * stale (OUTSIDE_MAX_AGE) value. Three steps, each where the information is:
 *
 * - `defaultShapeProblem(value)`: when the service is defined, before its features' types are
 *   known: a value JSON can carry (boolean, number, bigint, string, Uint8Array, Date, or a list
 *   of those and nulls), never null itself;
 * - `defaultTypeProblem(value, type)`: when the service is resolved against the repo's views:
 *   the value in the canonical JS form of the feature's type (int64 a bigint or a safe integer,
 *   timestamp a Date or ms since epoch, bytes a Uint8Array, list<T> an array of T or null);
 * - `defaultToJson(value)` is its form in the registry spec (int64 as a decimal string, bytes as
 *   base64, a Date as ms, NaN, infinities and -0 as strings), and `defaultFromJson(json, type)`
 *   turns that back into the value the read path serves (undefined when it does not fit).
 *
 * @example
 *   defaultTypeProblem(0n, 'int64')            // => undefined
 *   defaultTypeProblem('0', 'int64')           // => "expected int64 (a bigint or a safe-integer number), got string '0'"
 *   defaultToJson([1n, null])                  // => ['1', null]
 *   defaultFromJson(['1', null], 'list<int64>') // => [1n, null]
 */
export type DefaultScalar = boolean | number | bigint | string | Uint8Array | Date;
export type DefaultValue = DefaultScalar | readonly (DefaultScalar | null)[];

export type DefaultJson = boolean | number | string | (boolean | number | string | null)[];

/** A served default: the canonical JS form of its type (FeatureValue, feature-value.ts). */
export type ServedDefault = boolean | number | bigint | string | Uint8Array | readonly (boolean | number | bigint | string | Uint8Array | null)[];

/** Why a value cannot be a default of any type, or undefined when it can be. */
export function defaultShapeProblem(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'a default cannot be null; leave the feature out of defaults to serve null (fail closed)';
  if (Array.isArray(value)) {
    const bad = value.findIndex((item) => item !== null && !isScalar(item));
    return bad < 0 ? undefined : `list item ${bad} must be a boolean, number, bigint, string, Uint8Array, Date or null, got ${describeValue(value[bad])}`;
  }
  return isScalar(value) ? undefined : `must be a boolean, number, bigint, string, Uint8Array, Date or a list of them, got ${describeValue(value)}`;
}

/** Why a value does not fit a feature type, or undefined when it does: checkValue, with a Date accepted as a timestamp. */
export function defaultTypeProblem(value: unknown, type: ValueType): string | undefined {
  return checkValue(type, value, { dates: true });
}

/** The value's form in the registry spec (the same for every type, so it needs none). */
export function defaultToJson(value: DefaultValue): DefaultJson {
  return Array.isArray(value) ? value.map((item) => (item === null ? null : scalarToJson(item))) : scalarToJson(value as DefaultScalar);
}

/** The value served for a spec's default of that type; undefined when it does not fit the type. */
export function defaultFromJson(json: unknown, type: ValueType): ServedDefault | undefined {
  const parsed = parseValueType(type);
  if (!parsed) return undefined;
  if (!parsed.list) return scalarFromJson(json, parsed.scalar);
  if (!Array.isArray(json)) return undefined;
  const out: (boolean | number | bigint | string | Uint8Array | null)[] = [];
  for (const item of json) {
    if (item === null) out.push(null);
    else {
      const value = scalarFromJson(item, parsed.scalar);
      if (value === undefined) return undefined;
      out.push(value);
    }
  }
  return Object.freeze(out);
}

function isScalar(value: unknown): value is DefaultScalar {
  return (
    ['boolean', 'number', 'bigint', 'string'].includes(typeof value) ||
    value instanceof Uint8Array ||
    (value instanceof Date && Number.isFinite(value.getTime()))
  );
}

function scalarToJson(value: DefaultScalar): boolean | number | string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? value : Object.is(value, -0) ? '-0' : String(value);
  if (value instanceof Date) return value.getTime();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}

const NON_FINITE = new Map<string, number>([
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-0', -0],
]);

function scalarFromJson(json: unknown, scalar: ScalarType): boolean | number | bigint | string | Uint8Array | undefined {
  switch (scalar) {
    case 'bool':
      return typeof json === 'boolean' ? json : undefined;
    case 'int32':
      return checkValue('int32', json) === undefined ? (json as number) : undefined;
    case 'int64': {
      const value = typeof json === 'number' && Number.isSafeInteger(json) ? BigInt(json) : typeof json === 'string' && /^-?\d+$/.test(json) ? BigInt(json) : undefined;
      return value !== undefined && value >= INT64_MIN && value <= INT64_MAX ? value : undefined;
    }
    case 'float32':
    case 'float64': {
      const value = typeof json === 'number' ? json : typeof json === 'string' ? NON_FINITE.get(json) : undefined;
      return value === undefined ? undefined : scalar === 'float32' ? Math.fround(value) : value;
    }
    case 'string':
      return typeof json === 'string' ? json : undefined;
    case 'bytes':
      return typeof json === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(json) ? new Uint8Array(Buffer.from(json, 'base64')) : undefined;
    case 'timestamp':
      return typeof json === 'number' && Number.isFinite(json) ? json : undefined;
  }
}
