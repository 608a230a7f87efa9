import { Buffer } from 'node:buffer';
import { checkValue } from '../definitions/check-value.ts';
import { INT32_MAX, INT32_MIN, parseValueType, type ScalarType, type ValueType } from '../definitions/value-type.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';

/** Why a value cannot be coerced: coerceValue returns it instead of throwing. */
export class Invalid {
  constructor(readonly message: string) {}
}

export type Coerced = FeatureValue | Invalid;

export interface CoerceOptions {
  /** NaN and +/-Infinity are valid float values (the feature declares allowNonFinite). Default false. */
  readonly allowNonFinite?: boolean;
}

/**
 * Turns one input cell (a JS value from a row object, a CSV field, a text or loosely typed
 * Arrow cell) into the canonical form of the declared type, or says what is wrong with it.
 * Types come from the view, never guessed from the data. Text is parsed for every type:
 *
 *   int32, int64  whole numbers in range ('42', 42, 42n); '3.5' and int64 beyond 2^63 are errors;
 *                 a JS number beyond 2^53 is an error for int64 (it is already inexact: pass a
 *                 bigint or a string)
 *   float32/64    numbers that fit the type once rounded to it ('1e39' is outside float32, '1e400'
 *                 outside float64: errors, never Infinity); 'NaN', 'Infinity', '-inf' and the JS
 *                 non-finite numbers only when the feature declares allowNonFinite; 'abc' is an error
 *   bool          true/false, 'true'/'false'/'1'/'0' (any case)
 *   string        strings only (a number for a string is an error)
 *   bytes         Uint8Array, or base64 text
 *   timestamp     Date; ISO 8601 text ('2024-05-01', '2024-05-01T12:00:00Z', '2024-05-01 12:00:00.123+02:00',
 *                 no zone means UTC); epoch numbers (or numeric text), unit by magnitude:
 *                 below 1e11 seconds, below 1e14 ms, below 1e17 µs, else ns
 *   list<T>       arrays (or Arrow list cells) of T, or a JSON array as text; items may be null
 *
 * @example
 *   coerceValue('int64', '9007199254740993') // => 9007199254740993n
 *   coerceValue('float32', 'abc')            // => Invalid { message: "'abc' is not a number" }
 *   coerceValue('timestamp', '2024-05-01')   // => 1714521600000
 *
 * `raw` must not be null or undefined (a null cell stays null, decided by the caller).
 */
export function coerceValue(type: ValueType, raw: unknown, options: CoerceOptions = {}): Coerced {
  const parsed = parseValueType(type);
  if (!parsed) return new Invalid(`unknown type '${type}'`);
  return parsed.list ? coerceList(parsed.scalar, raw, options) : coerceScalar(parsed.scalar, raw, options);
}

/** Why a float value may not be stored as `type`, or null when it may (see coerceValue). */
export function floatProblem(type: 'float32' | 'float64', n: number, raw: unknown, options: CoerceOptions): Invalid | null {
  if (Number.isNaN(n) || n === Infinity || n === -Infinity) {
    if (options.allowNonFinite) return null;
    return new Invalid(`${describe(raw)} is not a finite number (the feature does not declare allowNonFinite: true)`);
  }
  if (type === 'float32' && !Number.isFinite(Math.fround(n))) return new Invalid(`${describe(raw)} is outside the float32 range`);
  return null;
}

const MAX_DATE_MS = 8.64e15;
const WHOLE = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_FLOAT = /^[+-]?(?:nan|inf|infinity)$/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

export function coerceScalar(type: ScalarType, raw: unknown, options: CoerceOptions = {}): Coerced {
  switch (type) {
    case 'int32':
      return toInt32(raw);
    case 'int64':
      return toInt64(raw);
    case 'float32':
    case 'float64':
      return toFloat(type, raw, options);
    case 'bool':
      return toBool(raw);
    case 'string':
      return typeof raw === 'string' ? raw : new Invalid(`expected a string, got ${describe(raw)}`);
    case 'bytes':
      if (raw instanceof Uint8Array) return raw;
      if (typeof raw === 'string' && BASE64.test(raw)) return new Uint8Array(Buffer.from(raw, 'base64'));
      return new Invalid(`expected bytes (Uint8Array or base64 text), got ${describe(raw)}`);
    case 'timestamp':
      return toTimestamp(raw);
  }
}

function coerceList(scalar: ScalarType, raw: unknown, options: CoerceOptions): Coerced {
  let items: unknown;
  if (typeof raw === 'string') {
    try {
      items = JSON.parse(raw);
    } catch {
      return new Invalid(`${describe(raw)} is not a JSON array`);
    }
    if (!Array.isArray(items)) return new Invalid(`${describe(raw)} is not a JSON array`);
  } else if (Array.isArray(raw)) {
    items = raw;
  } else if (typeof raw === 'object' && raw !== null && !(raw instanceof Uint8Array) && Symbol.iterator in raw) {
    items = Array.from(raw as Iterable<unknown>); // an Arrow list cell
  } else {
    return new Invalid(`expected a list of ${scalar}, got ${describe(raw)}`);
  }
  const list = items as unknown[];
  const out: (FeatureValue | null)[] = new Array(list.length);
  for (let j = 0; j < list.length; j++) {
    const item = list[j];
    if (item === null || item === undefined) {
      out[j] = null;
      continue;
    }
    const value = coerceScalar(scalar, item, options);
    if (value instanceof Invalid) return new Invalid(`item ${j}: ${value.message}`);
    out[j] = value;
  }
  return out;
}

function toInt32(raw: unknown): Coerced {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'bigint') n = raw >= INT32_MIN && raw <= INT32_MAX ? Number(raw) : Infinity;
  else if (typeof raw === 'string') {
    const text = raw.trim();
    if (!WHOLE.test(text)) return NUMBER.test(text) ? new Invalid(`${describe(raw)} is not a whole number`) : new Invalid(`${describe(raw)} is not a number`);
    n = Number(text);
  } else return new Invalid(`expected a whole number, got ${describe(raw)}`);
  if (Number.isNaN(n) || (Number.isFinite(n) && !Number.isInteger(n))) return new Invalid(`${describe(raw)} is not a whole number`);
  // Parsed; what is left is checkValue's range (Infinity stands for a bigint out of range).
  if (checkValue('int32', n) !== undefined) return new Invalid(`${describe(raw)} is outside the int32 range`);
  return n;
}

function toInt64(raw: unknown): Coerced {
  let n: bigint;
  if (typeof raw === 'bigint') n = raw;
  else if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return new Invalid(`${describe(raw)} is not a whole number`);
    if (!Number.isSafeInteger(raw)) return new Invalid(`${describe(raw)} is beyond 2^53, so not exact: pass a bigint or a string`);
    n = BigInt(raw);
  } else if (typeof raw === 'string') {
    const text = raw.trim();
    if (!WHOLE.test(text)) return NUMBER.test(text) ? new Invalid(`${describe(raw)} is not a whole number`) : new Invalid(`${describe(raw)} is not a number`);
    n = BigInt(text);
  } else return new Invalid(`expected a whole number, got ${describe(raw)}`);
  if (checkValue('int64', n) !== undefined) return new Invalid(`${describe(raw)} is outside the int64 range`);
  return n;
}

function toFloat(type: 'float32' | 'float64', raw: unknown, options: CoerceOptions): Coerced {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'bigint') {
    n = Number(raw);
    if (!Number.isFinite(n)) return new Invalid(`${describe(raw)} is outside the ${type} range`);
  } else if (typeof raw === 'string') {
    const text = raw.trim();
    if (NUMBER.test(text)) {
      n = Number(text);
      // '1e400' parses to Infinity: a value too large for the type, not an infinity.
      if (!Number.isFinite(n)) return new Invalid(`${describe(raw)} is outside the ${type} range`);
    } else if (SPECIAL_FLOAT.test(text)) n = /nan/i.test(text) ? NaN : text.startsWith('-') ? -Infinity : Infinity;
    else return new Invalid(`${describe(raw)} is not a number`);
  } else return new Invalid(`expected a number, got ${describe(raw)}`);
  return floatProblem(type, n, raw, options) ?? n;
}

function toBool(raw: unknown): Coerced {
  if (typeof raw === 'boolean') return raw;
  if (raw === 0 || raw === 1) return raw === 1;
  if (typeof raw === 'string') {
    const text = raw.trim().toLowerCase();
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
  }
  return new Invalid(`expected true or false, got ${describe(raw)}`);
}

function toTimestamp(raw: unknown): Coerced {
  if (raw instanceof Date) {
    const ms = raw.getTime();
    return Number.isNaN(ms) ? new Invalid('is an invalid Date') : ms;
  }
  if (typeof raw === 'number') return Number.isFinite(raw) ? epochMillis(raw, raw) : new Invalid(`${describe(raw)} is not a time`);
  if (typeof raw === 'bigint') return epochMillisBig(raw);
  if (typeof raw !== 'string') return new Invalid(`expected a timestamp (ISO text, epoch number or Date), got ${describe(raw)}`);
  const text = raw.trim();
  if (WHOLE.test(text)) return epochMillisBig(BigInt(text), raw);
  if (NUMBER.test(text)) return epochMillis(Number(text), raw);
  const m = ISO.exec(text);
  if (!m) return new Invalid(`${describe(raw)} is not a timestamp (ISO 8601 or epoch number)`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = ''] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(utc);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    return new Invalid(`${describe(raw)} is not a valid date and time`);
  }
  return utc + Number(frac.padEnd(3, '0').slice(0, 3)) - zoneOffsetMs(zone);
}

function zoneOffsetMs(zone: string): number {
  if (zone === '' || /^(z|utc)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return (m[1] === '-' ? -1 : 1) * minutes * 60_000;
}

/** An epoch number in s, ms, µs or ns (by magnitude) to whole ms. */
function epochMillis(value: number, raw: unknown): Coerced {
  const abs = Math.abs(value);
  const ms = abs < 1e11 ? Math.round(value * 1000) : abs < 1e14 ? Math.round(value) : abs < 1e17 ? Math.floor(value / 1e3) : Math.floor(value / 1e6);
  return Math.abs(ms) <= MAX_DATE_MS ? ms : new Invalid(`${describe(raw)} is outside the range of dates`);
}

function epochMillisBig(value: bigint, raw: unknown = value): Coerced {
  const abs = value < 0n ? -value : value;
  if (abs < 100_000_000_000_000n) return epochMillis(Number(value), raw);
  const divisor = abs < 100_000_000_000_000_000n ? 1_000n : 1_000_000n;
  let ms = value / divisor;
  if (value < 0n && ms * divisor !== value) ms -= 1n; // floor, not truncate
  return ms >= -8_640_000_000_000_000n && ms <= 8_640_000_000_000_000n ? Number(ms) : new Invalid(`${describe(raw)} is outside the range of dates`);
}

/** A short, quoted rendering of a bad value for messages. */
export function describe(raw: unknown): string {
  if (typeof raw === 'string') return `'${raw.length > 40 ? `${raw.slice(0, 40)}...` : raw}'`;
  if (typeof raw === 'bigint') return `${raw}n`;
  if (raw instanceof Uint8Array) return `bytes(${raw.length})`;
  if (Array.isArray(raw)) return `an array`;
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? 'an invalid Date' : `Date ${raw.toISOString()}`;
  if (typeof raw === 'object' && raw !== null) return 'an object';
  return String(raw);
}
