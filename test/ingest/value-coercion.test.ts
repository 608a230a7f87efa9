// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coerceValue, Invalid } from '../../ingest/value-coercion.ts';

const T = Date.UTC(2024, 4, 1, 12, 0, 0);

function invalid(type: Parameters<typeof coerceValue>[0], raw: unknown, options: Parameters<typeof coerceValue>[2] = {}): string {
  const value = coerceValue(type, raw, options);
  assert.ok(value instanceof Invalid, `${String(raw)} should not be a valid ${type}`);
  return value.message;
}

test('timestamps: ISO text with zones, epoch numbers by magnitude, Dates', () => {
  const same = [
    '2024-05-01T12:00:00Z', '2024-05-01T12:00:00', '2024-05-01 12:00:00', '2024-05-01T12:00Z', '2024-05-01T14:00:00+02:00',
    '2024-05-01T07:00:00-0500', '2024-05-01T12:00:00 UTC', '2024-05-01T12:00:00.000000000Z',
    T / 1000, T, T * 1000, T * 1_000_000, BigInt(T) * 1_000_000n, String(T / 1000), String(T), `${T}000000`, new Date(T),
  ];
  for (const raw of same) assert.equal(coerceValue('timestamp', raw), T, String(raw));
  assert.equal(coerceValue('timestamp', '2024-05-01'), Date.UTC(2024, 4, 1));
  assert.equal(coerceValue('timestamp', 1714564800.5), T + 500);
  assert.equal(coerceValue('timestamp', -1_700_000_000_000_000_001n), -1_700_000_000_001, 'ns: floor toward the past');
  assert.match(invalid('timestamp', '2024-13-01'), /not a valid date/);
  assert.match(invalid('timestamp', 'May 1st'), /not a timestamp/);
  assert.match(invalid('timestamp', true), /expected a timestamp/);
  assert.match(invalid('timestamp', new Date(NaN)), /invalid Date/);
});

test('whole numbers: ranges, text, bigints', () => {
  assert.equal(coerceValue('int32', ' -12 '), -12);
  assert.equal(coerceValue('int32', 7n), 7);
  assert.match(invalid('int32', 2 ** 31), /outside the int32 range/);
  assert.match(invalid('int32', '1e3'), /not a whole number/);
  assert.equal(coerceValue('int64', '-9223372036854775808'), -(2n ** 63n));
  assert.equal(coerceValue('int64', 42), 42n);
  assert.match(invalid('int64', 2n ** 63n), /outside the int64 range/);
  assert.match(invalid('int64', 'abc'), /not a number/);
  assert.match(invalid('int64', NaN), /not a whole number/);
});

test('floats, booleans, strings, bytes, lists', () => {
  assert.equal(coerceValue('float32', '1e-3'), 0.001);
  assert.ok(Number.isNaN(coerceValue('float64', 'NaN', { allowNonFinite: true })));
  assert.equal(coerceValue('float64', '-Infinity', { allowNonFinite: true }), -Infinity);
  assert.match(invalid('float32', '1e39'), /outside the float32 range/);
  assert.match(invalid('float64', '0x10'), /not a number/);
  assert.equal(coerceValue('bool', 'False'), false);
  assert.equal(coerceValue('bool', 1), true);
  assert.match(invalid('bool', 'yes'), /expected true or false/);
  assert.match(invalid('string', 5), /expected a string, got 5/);
  assert.deepEqual(coerceValue('bytes', 'AQI='), new Uint8Array([1, 2]));
  assert.match(invalid('bytes', 'not base64!'), /base64/);
  assert.deepEqual(coerceValue('list<int32>', '[1, null, "3"]'), [1, null, 3]);
  assert.deepEqual(coerceValue('list<string>', ['a', undefined]), ['a', null]);
  assert.match(invalid('list<int64>', [1, 2.5]), /item 1: 2.5 is not a whole number/);
  assert.match(invalid('list<int64>', '[9007199254740993]'), /item 0: .* beyond 2\^53/);
  assert.match(invalid('list<float32>', '{"a": 1}'), /not a JSON array/);
});

test('floats that do not fit the declared type are refused, never stored as Infinity', () => {
  assert.match(invalid('float32', '1e400'), /'1e400' is outside the float32 range/);
  assert.match(invalid('float64', '1e400'), /'1e400' is outside the float64 range/);
  assert.match(invalid('float64', '-1e400'), /outside the float64 range/);
  assert.match(invalid('float32', 1e300), /1e\+300 is outside the float32 range/);
  assert.match(invalid('float32', 1e39), /outside the float32 range/);
  assert.match(invalid('float32', 10n ** 39n), /outside the float32 range/);
  assert.match(invalid('float64', 10n ** 400n), /outside the float64 range/);
  assert.match(invalid('list<float32>', [1, 1e39]), /item 1: .* outside the float32 range/);
  // FLT_MAX as usually printed rounds to FLT_MAX: it fits.
  assert.equal(coerceValue('float32', '3.4028235e38'), 3.4028235e38);
  assert.equal(coerceValue('float64', '1e300'), 1e300);
  // Even where non-finite values are allowed, text that overflows is not an infinity.
  assert.match(invalid('float64', '1e400', { allowNonFinite: true }), /outside the float64 range/);
});

test('NaN and infinities are refused unless the feature allows them', () => {
  for (const raw of ['NaN', 'nan', 'Infinity', '-inf', NaN, Infinity, -Infinity]) {
    assert.match(invalid('float64', raw), /is not a finite number \(the feature does not declare allowNonFinite: true\)/);
    assert.match(invalid('float32', raw), /is not a finite number/);
  }
  assert.match(invalid('list<float64>', [1, NaN]), /item 1: NaN is not a finite number/);
  assert.equal(coerceValue('float32', 'inf', { allowNonFinite: true }), Infinity);
  assert.deepEqual(coerceValue('list<float64>', ['NaN', -Infinity], { allowNonFinite: true }), [NaN, -Infinity]);
});
