import { parseValueType, type ValueType } from '../definitions/value-type.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';

/**
 * Feature values as JSON, the way Feast's feature server writes them (protobuf's JSON mapping,
 * flattened): numbers as numbers (NaN and infinities as the strings "NaN", "Infinity",
 * "-Infinity"), int64 as a number when it is exact as one and as a decimal string beyond 2^53,
 * bytes as base64, timestamps as RFC 3339 UTC strings, lists as arrays.
 *
 * @example
 *   jsonValueOf(12n, 'int64')                  // => 12
 *   jsonValueOf(2n ** 60n, 'int64')            // => '1152921504606846976'
 *   jsonValueOf(Date.UTC(2025, 0, 1), 'timestamp') // => '2025-01-01T00:00:00Z'
 */
export type JsonValue = null | boolean | number | string | JsonValue[];

export function jsonValueOf(value: FeatureValue | null, type: ValueType): JsonValue {
  if (value === null) return null;
  const scalar = parseValueType(type)?.scalar;
  return convert(value, scalar === 'timestamp', scalar === 'float32');
}

function convert(value: FeatureValue | null, timestamp: boolean, float32: boolean): JsonValue {
  switch (typeof value) {
    case 'number':
      if (timestamp) return formatTimestamp(value);
      if (!Number.isFinite(value)) return String(value);
      return float32 ? shortestFloat32(value) : value;
    case 'bigint':
      return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value.toString();
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      if (value === null) return null;
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      return value.map((item) => convert(item, timestamp, float32));
    default:
      return null;
  }
}

/**
 * The shortest decimal that reads back as the same float32, as protobuf's JSON writes a float
 * (71.52, not the float64 widening 71.5199966430664).
 *
 * @example
 *   shortestFloat32(Math.fround(71.52)) // => 71.52
 */
export function shortestFloat32(value: number): number {
  const f = Math.fround(value);
  if (f === 0 || !Number.isFinite(f)) return f;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return Number(f.toPrecision(9));
}

/** RFC 3339 in UTC, as protobuf writes a Timestamp: no fraction when whole seconds, else ms. */
export function formatTimestamp(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, -5)}Z` : iso;
}
