// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkJoinKeyValue, checkValue } from '../../definitions/check-value.ts';
import type { ValueType } from '../../definitions/value-type.ts';

test('checkValue: each type accepts its canonical form and nothing else', () => {
  const cases: [ValueType, unknown, boolean][] = [
    ['bool', true, true],
    ['bool', 1, false],
    ['int32', -(2 ** 31), true],
    ['int32', 2 ** 31 - 1, true],
    ['int32', 2 ** 31, false],
    ['int32', -(2 ** 31) - 1, false],
    ['int32', 1.5, false],
    ['int32', -0, true],
    ['int32', 1n, false],
    ['int64', -(2n ** 63n), true],
    ['int64', 2n ** 63n - 1n, true],
    ['int64', 2n ** 63n, false],
    ['int64', -(2n ** 63n) - 1n, false],
    ['int64', Number.MAX_SAFE_INTEGER, true],
    ['int64', 2 ** 53, false],
    ['int64', '1', false],
    ['float32', Number.NaN, true],
    ['float64', Number.POSITIVE_INFINITY, true],
    ['float64', '1.5', false],
    ['string', '', true],
    ['string', 0, false],
    ['bytes', new Uint8Array(2), true],
    ['bytes', 'AP8=', false],
    ['timestamp', 1_714_564_800_000, true],
    ['timestamp', Number.NaN, false],
    ['timestamp', new Date(0), false],
    ['list<int64>', [1n, null, 2], true],
    ['list<int64>', [1n, 'two'], false],
    ['list<string>', 'a', false],
  ];
  for (const [type, value, ok] of cases) {
    assert.equal(checkValue(type, value) === undefined, ok, `${type} ${String(value)}`);
  }
});

test('checkValue: the problem names the type and the value; dates: true accepts a Date as a timestamp', () => {
  assert.equal(checkValue('int32', 2 ** 31), 'expected int32 (a whole number from -2^31 to 2^31-1), got number 2147483648');
  assert.equal(checkValue('list<int64>', [1n, 'two']), "expected list<int64>: list item 1 must be int64 (a bigint or a safe-integer number) or null, got string 'two'");
  assert.equal(checkValue('timestamp', new Date(0), { dates: true }), undefined);
  assert.equal(checkValue('timestamp', new Date(Number.NaN), { dates: true }), 'expected timestamp (a Date or ms since epoch), got Date Invalid Date');
  assert.equal(checkValue('nope' as ValueType, 1), "unknown value type 'nope'");
});

test('checkJoinKeyValue: an int32 key may also be a bigint in range', () => {
  assert.equal(checkJoinKeyValue('int32', 7n), undefined);
  assert.notEqual(checkJoinKeyValue('int32', 2n ** 31n), undefined);
  assert.notEqual(checkValue('int32', 7n), undefined);
  assert.equal(checkJoinKeyValue('int64', 7), undefined);
  assert.equal(checkJoinKeyValue('string', 'u1'), undefined);
  assert.notEqual(checkJoinKeyValue('string', 1), undefined);
});
