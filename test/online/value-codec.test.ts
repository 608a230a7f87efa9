import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ValueType } from '../../definitions/value-type.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';
import { valueCodec } from '../../stores/online/value-codec.ts';
import { openTestStore, storedFields, testTarget } from './online-fixtures.ts';
import { LIST_SAMPLES, SAMPLES, assertSame, bytes } from './value-samples.ts';

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
