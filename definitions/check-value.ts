import { INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, isScalarType, parseValueType, type JoinKeyType, type ScalarType, type ValueType } from './value-type.ts';

export interface CheckValueOptions {
  /** A Date is a timestamp too (feature service defaults accept one); otherwise a timestamp is ms since epoch. */
  readonly dates?: boolean;
}

/**
 * The one rule of what a value of each type is: whether `value` has the canonical JS form of
 * `type` (FeatureValue, feature-value.ts): bool a boolean; int32 an integer number from -2^31 to 2^31-1; int64 a
 * bigint in the int64 range or a safe-integer number; float32 and float64 a number (NaN and
 * infinities included); string a string; bytes a Uint8Array; timestamp a finite number of ms
 * since epoch; list<T> an array of T or null. Returns the problem, or undefined when it fits.
 * Ingest, the online codec and key layout, feature service defaults and serving all ask it;
 * each keeps its own error text.
 *
 * @example
 *   checkValue('int64', 5n)   // => undefined
 *   checkValue('int32', 2 ** 31) // => 'expected int32 (a whole number from -2^31 to 2^31-1), got number 2147483648'
 */
export function checkValue(type: ValueType, value: unknown, options: CheckValueOptions = NO_OPTIONS): string | undefined {
  // Scalars first and without allocating: the online codec asks once per value written.
  if (isScalarType(type)) return fitsScalar(value, type, options) ? undefined : `expected ${expectedForm(type, options)}, got ${describeValue(value)}`;
  const parsed = parseValueType(type);
  if (!parsed) return `unknown value type '${String(type)}'`;
  const { scalar } = parsed;
  if (!Array.isArray(value)) return `expected ${type} (a list of ${expectedForm(scalar, options)} or null), got ${describeValue(value)}`;
  const bad = value.findIndex((item) => item !== null && !fitsScalar(item, scalar, options));
  return bad < 0 ? undefined : `expected ${type}: list item ${bad} must be ${expectedForm(scalar, options)} or null, got ${describeValue(value[bad])}`;
}

/**
 * checkValue for a join key: the same rule, except that an int32 key may also be a bigint in
 * the int32 range (keys are often read as bigints; the online key layout and serving accept one).
 *
 * @example
 *   checkJoinKeyValue('int32', 7n) // => undefined
 */
export function checkJoinKeyValue(type: JoinKeyType, value: unknown): string | undefined {
  if (type === 'int32' && typeof value === 'bigint' && value >= INT32_MIN && value <= INT32_MAX) return undefined;
  return checkValue(type, value);
}

const NO_OPTIONS: CheckValueOptions = {};

function expectedForm(scalar: ScalarType, options: CheckValueOptions): string {
  return scalar === 'timestamp' && options.dates ? 'timestamp (a Date or ms since epoch)' : EXPECTED[scalar];
}

const EXPECTED: Record<ScalarType, string> = {
  bool: 'bool (true or false)',
  int32: 'int32 (a whole number from -2^31 to 2^31-1)',
  int64: 'int64 (a bigint or a safe-integer number)',
  float32: 'float32 (a number)',
  float64: 'float64 (a number)',
  string: 'string',
  bytes: 'bytes (a Uint8Array)',
  timestamp: 'timestamp (ms since epoch)',
};

function fitsScalar(value: unknown, scalar: ScalarType, options: CheckValueOptions): boolean {
  switch (scalar) {
    case 'bool':
      return typeof value === 'boolean';
    case 'int32':
      return typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
    case 'int64':
      return (typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) || (typeof value === 'number' && Number.isSafeInteger(value));
    case 'float32':
    case 'float64':
      return typeof value === 'number';
    case 'string':
      return typeof value === 'string';
    case 'bytes':
      return value instanceof Uint8Array;
    case 'timestamp':
      return (typeof value === 'number' && Number.isFinite(value)) || (options.dates === true && value instanceof Date && Number.isFinite(value.getTime()));
  }
}

/** A value as error messages show it: `bigint 3n`, `string 'x'`, `Uint8Array(4)`, `a list of 2`, `number 1.5`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return `bigint ${value}n`;
  if (typeof value === 'string') return `string '${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (value instanceof Date) return `Date ${Number.isFinite(value.getTime()) ? value.toISOString() : 'Invalid Date'}`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
