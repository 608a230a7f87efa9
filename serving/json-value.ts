import { parseValueType, type ValueType } from '../definitions/value-type.ts';
import type { FeatureValue } from '../stores/online/online-store.ts';

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
  const timestamp = parseValueType(type)?.scalar === 'timestamp';
  return convert(value, timestamp);
}

function convert(value: FeatureValue | null, timestamp: boolean): JsonValue {
  switch (typeof value) {
    case 'number':
      if (timestamp) return formatTimestamp(value);
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value.toString();
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      if (value === null) return null;
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      return value.map((item) => convert(item, timestamp));
    default:
      return null;
  }
}

/** RFC 3339 in UTC, as protobuf writes a Timestamp: no fraction when whole seconds, else ms. */
export function formatTimestamp(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, -5)}Z` : iso;
}
