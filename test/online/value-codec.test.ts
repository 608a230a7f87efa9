import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ValueType } from '../../definitions/value-type.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';
import { valueCodec } from '../../stores/online/value-codec.ts';
import { openTestStore, storedFields, testTarget } from './online-fixtures.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const allBytes = new Uint8Array(256).map((_, i) => i);

/** Values of every type, edge cases included; each must come back identical (Object.is for numbers). */
const SAMPLES: Record<string, readonly FeatureValue[]> = {
  bool: [true, false],
  int32: [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)],
  int64: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n],
  float32: [0, -0, 1.5, Math.fround(0.1), Math.fround(3.4e38), Math.fround(1e-45), NaN, Infinity, -Infinity],
  float64: [0, -0, 0.1, 1 / 3, -1e308, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, NaN, Infinity, -Infinity],
  string: ['', 'plain', 'a|b%7C:c', 'ünïcødé 🚀', 'line\nbreak\u0000nul', '{"json":true}'],
  bytes: [bytes(), bytes(0), allBytes],
  timestamp: [0, Date.parse('2025-06-01T12:34:56.789Z'), -86_400_000, 1_700_000_000_000.5],
};

const LIST_SAMPLES: Record<string, readonly FeatureValue[]> = Object.fromEntries(
  Object.entries(SAMPLES).map(([type, values]) => [`list<${type}>`, [[], [null], [...values], [values[0]!, null, values[values.length - 1]!, null]]]),
);

function assertSame(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.ok(Object.is(actual, expected), `${where}: ${String(actual)} is not ${String(expected)}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: not an array`);
    assert.equal((actual as unknown[]).length, expected.length, `${where}: length`);
    expected.forEach((item, i) => assertSame((actual as unknown[])[i], item, `${where}[${i}]`));
  } else {
    assert.deepStrictEqual(actual, expected, where);
  }
}

for (const [type, values] of Object.entries({ ...SAMPLES, ...LIST_SAMPLES })) {
  test(`value codec: ${type} round trips exactly`, () => {
    const codec = valueCodec(type as ValueType);
    for (const value of values) {
      const text = codec.encode(value);
      assert.equal(typeof text, 'string');
      assertSame(codec.decode(text), value, `${type} ${String(value)} via ${JSON.stringify(text)}`);
    }
  });
}

test('value codec: float32 rounds to float32 on the way in', () => {
  const codec = valueCodec('float32');
  assert.equal(codec.decode(codec.encode(0.1)), Math.fround(0.1));
  assert.deepEqual(valueCodec('list<float32>').decode(valueCodec('list<float32>').encode([0.1, null])), [Math.fround(0.1), null]);
});

test('value codec: int64 accepts a safe-integer number and returns a bigint', () => {
  assert.equal(valueCodec('int64').decode(valueCodec('int64').encode(42)), 42n);
});

test('value codec: compact encodings', () => {
  assert.equal(valueCodec('bool').encode(true), '1');
  assert.equal(valueCodec('int64').encode(-5n), '-5');
  assert.equal(valueCodec('float64').encode(-0), '-0');
  assert.equal(valueCodec('bytes').encode(bytes(1, 2, 3)), 'AQID');
  assert.equal(valueCodec('list<float64>').encode([1.5, null, NaN, -0]), '[1.5,null,"NaN","-0"]');
  assert.equal(valueCodec('list<int64>').encode([1n, null]), '["1",null]');
});

test('value codec: a value of the wrong type is refused with the type named', () => {
  const cases: [ValueType, unknown][] = [
    ['bool', 1],
    ['int32', 1.5],
    ['int32', 2 ** 31],
    ['int32', 1n],
    ['int64', 2n ** 63n],
    ['int64', 2 ** 60],
    ['int64', '1'],
    ['float64', '1.5'],
    ['float32', 1n],
    ['string', 7],
    ['bytes', 'AQID'],
    ['timestamp', new Date()],
    ['list<int32>', 5],
    ['list<int32>', [1, 'x']],
  ];
  for (const [type, value] of cases) {
    assert.throws(() => valueCodec(type).encode(value as FeatureValue), (error: Error) => {
      assert.ok(error instanceof TypeError, `${type} ${String(value)}`);
      assert.match(error.message, new RegExp(`^expected (list<)?${type.replace(/^list<(.*)>$/, '$1')}>?, got`));
      return true;
    });
  }
});

test('value codec: unknown types are refused', () => {
  assert.throws(() => valueCodec('decimal' as ValueType), /unknown value type 'decimal'/);
});

test('value codec: every type round trips through Redis, nulls as absent fields', async (t) => {
  const { store, raw } = await openTestStore(t);
  const types = [...Object.keys(SAMPLES), ...Object.keys(LIST_SAMPLES)] as ValueType[];
  const target = testTarget({ features: types.map((type) => ({ name: type.replace(/\W/g, '_'), type })) });
  const all = { ...SAMPLES, ...LIST_SAMPLES };
  const width = Math.max(...Object.values(all).map((v) => v.length));
  const rows = Array.from({ length: width + 1 }, (_, i) => ({
    entityKey: [`e${i}`],
    // The last row is all nulls.
    values: Object.fromEntries(target.features.map((f) => [f.name, all[f.type]![i] ?? null])),
    eventTime: Date.now(),
    createdTime: 0,
  }));
  assert.deepEqual(await store.writeRows(target, rows), { written: rows.length, skipped: 0, expired: 0 });
  const [read] = await store.readRows([{ target, entityKeys: rows.map((r) => r.entityKey) }]);
  rows.forEach((row, i) => assertSame(read![i]!.values, row.values, `row ${i}`));
  for (const [i, row] of rows.entries()) {
    const fields = await storedFields(store, raw, target, row.entityKey);
    const present = Object.entries(row.values).filter(([, v]) => v !== null).map(([name]) => name);
    assert.deepEqual(fields.sort(), ['__ct', '__et', ...present].sort(), `row ${i}: only non-null features are stored`);
  }
});
