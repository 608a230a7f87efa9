/**
 * The value types a feature or join key may have.
 *
 * @example
 *   parseValueType('list<float32>') // => { scalar: 'float32', list: true }
 */
export const SCALAR_TYPES = [
  'bool',
  'int32',
  'int64',
  'float32',
  'float64',
  'string',
  'bytes',
  'timestamp',
] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type ListType = `list<${ScalarType}>`;
export type ValueType = ScalarType | ListType;

/** Types a join key may have: lists, floats and bytes make poor keys. */
export const JOIN_KEY_TYPES = ['int32', 'int64', 'string'] as const;
export type JoinKeyType = (typeof JOIN_KEY_TYPES)[number];

export interface ParsedValueType {
  readonly scalar: ScalarType;
  readonly list: boolean;
}

export function isScalarType(value: unknown): value is ScalarType {
  return typeof value === 'string' && (SCALAR_TYPES as readonly string[]).includes(value);
}

export function isValueType(value: unknown): value is ValueType {
  return parseValueType(value) !== undefined;
}

export function parseValueType(value: unknown): ParsedValueType | undefined {
  if (isScalarType(value)) return { scalar: value, list: false };
  if (typeof value !== 'string') return undefined;
  const match = /^list<(\w+)>$/.exec(value);
  if (match && isScalarType(match[1])) return { scalar: match[1], list: true };
  return undefined;
}

/** float32, float64, or a list of either: the types whose values may be NaN or infinite. */
export function isFloatType(value: unknown): boolean {
  const parsed = parseValueType(value);
  return parsed !== undefined && (parsed.scalar === 'float32' || parsed.scalar === 'float64');
}

export function describeValueTypes(): string {
  return `${SCALAR_TYPES.join(', ')}, or list<T> of one of them`;
}

/** The int32 range: the only definition (ingest, the online codec, defaults and serving check against it). */
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;
/** The int64 range, as bigints. */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
