import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ValueType } from '../../definitions/value-type.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';
import { PackedRowCodec, packedTimes } from '../../stores/online/packed-row-codec.ts';
import { valueCodec } from '../../stores/online/value-codec.ts';
import { LIST_SAMPLES, SAMPLES, assertSame, bytes } from './value-samples.ts';

const TIMES: [number, number][] = [
  [0, 0],
  [1_700_000_000_000, 0],
  [1_700_000_000_000.5, 1_700_000_000_001.25],
  [-86_400_000, -1],
  [-0, 0],
  [Number.MAX_SAFE_INTEGER, 2 ** 53 + 2],
];

for (const [type, values] of Object.entries({ ...SAMPLES, ...LIST_SAMPLES })) {
  test(`packed row: ${type} round trips exactly, alone and between other features`, () => {
    const alone = new PackedRowCodec([{ name: 'v', type: type as ValueType }]);
    const between = new PackedRowCodec([
      { name: 'before', type: 'string' },
      { name: 'v', type: type as ValueType },
      { name: 'after', type: 'int64' },
    ]);
    for (const [i, value] of values.entries()) {
      const [eventTime, createdTime] = TIMES[i % TIMES.length]!;
      const one = alone.decode(alone.encode(eventTime, createdTime, () => value));
      assertSame(one.values[0], value, `${type} ${String(value)}`);
      assert.ok(Object.is(one.eventTime, eventTime) && Object.is(one.createdTime, createdTime), `${type}: times`);
      const three = between.decode(between.encode(eventTime, createdTime, (f) => ['x\u00e9', value, -(2n ** 63n)][f]));
      assertSame(three.values, ['x\u00e9', value, -(2n ** 63n)], `${type} ${String(value)} between`);
    }
  });
}

test('packed row: the same values as the string codec gives back (float32 as fround, int64 as bigint)', () => {
  const features = Object.keys({ ...SAMPLES, ...LIST_SAMPLES }).map((type) => ({ name: type.replace(/\W/g, '_'), type: type as ValueType }));
  const codec = new PackedRowCodec(features);
  const width = Math.max(...Object.values({ ...SAMPLES, ...LIST_SAMPLES }).map((v) => v.length));
  for (let i = 0; i < width; i++) {
    const valueOf = (f: number): FeatureValue | null => ({ ...SAMPLES, ...LIST_SAMPLES })[features[f]!.type]![i] ?? null;
    const { values } = codec.decode(codec.encode(1, 2, valueOf));
    features.forEach((feature, f) => {
      const value = valueOf(f);
      const viaString = value === null ? null : valueCodec(feature.type).decode(valueCodec(feature.type).encode(value));
      assertSame(values[f], viaString, `${feature.type} row ${i}`);
    });
  }
  // float32 rounds on the way in, as a float32 column holds it; int64 numbers come back as bigint.
  const narrow = new PackedRowCodec([
    { name: 'f', type: 'float32' },
    { name: 'i', type: 'int64' },
    { name: 'l', type: 'list<float32>' },
  ]);
  assert.deepEqual(narrow.decode(narrow.encode(0, 0, (f) => [0.1, 42, [0.1, null]][f])).values, [Math.fround(0.1), 42n, [Math.fround(0.1), null]]);
});

test('packed row: nulls are bits of the presence bitmap, the header is the two times big-endian', () => {
  const features = Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, type: 'float64' as ValueType }));
  const codec = new PackedRowCodec(features);
  const allNull = codec.encode(5, 6, () => null);
  assert.equal(allNull.length, 16 + 1 + 2, 'header, feature count and a 2-byte bitmap');
  assert.deepEqual(codec.decode(allNull).values, Array(10).fill(null));
  const some = codec.encode(1_700_000_000_000, 3, (f) => (f === 0 || f === 9 ? f + 0.5 : null));
  assert.equal(some.length, 16 + 1 + 2 + 16);
  assert.deepEqual([...some.subarray(16, 19)], [10, 0b1, 0b10]);
  assert.deepEqual(packedTimes(some), { eventTime: 1_700_000_000_000, createdTime: 3 });
  assert.equal(some.readDoubleBE(0), 1_700_000_000_000);
  assert.deepEqual(codec.decode(some, [9, 0, 5]).values, [9.5, 0.5, null], 'a subset, in the order asked');
  const full = codec.encode(1, 1, (f) => f);
  assert.equal(full.length, 16 + 1 + 2 + 80, '10 float64 features: 99 bytes');
});

test('packed row: a row packed before features were appended decodes with them null; a newer one is refused', () => {
  const before = new PackedRowCodec([{ name: 'a', type: 'int32' }]);
  const after = new PackedRowCodec([
    { name: 'a', type: 'int32' },
    { name: 'b', type: 'string' },
  ]);
  assert.deepEqual(after.decode(before.encode(1, 2, () => 7)), { eventTime: 1, createdTime: 2, values: [7, null] });
  assert.deepEqual(after.decode(before.encode(1, 2, () => 7), [1, 0]).values, [null, 7]);
  assert.throws(() => before.decode(after.encode(1, 2, (f) => [7, 'x'][f])), /packed row has 2 features, the packing read has 1/);
});

test('packed row: equal rows are equal bytes; a different time or value is different bytes', () => {
  const codec = new PackedRowCodec([
    { name: 's', type: 'string' },
    { name: 'b', type: 'bytes' },
    { name: 'l', type: 'list<int64>' },
  ]);
  const row = (eventTime: number, s: string) => codec.encode(eventTime, 0, (f) => [s, bytes(1, 2), [1n, null]][f]);
  assert.ok(row(1, 'a').equals(row(1, 'a')));
  assert.ok(!row(1, 'a').equals(row(2, 'a')));
  assert.ok(!row(1, 'a').equals(row(1, 'b')));
  const f = new PackedRowCodec([{ name: 'x', type: 'float64' }]);
  assert.ok(!f.encode(1, 0, () => -0).equals(f.encode(1, 0, () => 0)), '-0 and 0 differ, as the string codec keeps them apart');
});

test('packed row: long strings and lists (multi-byte lengths) round trip', () => {
  const codec = new PackedRowCodec([
    { name: 's', type: 'string' },
    { name: 'l', type: 'list<int32>' },
    { name: 'b', type: 'bytes' },
  ]);
  const long = 'é'.repeat(70_000);
  const list = Array.from({ length: 20_000 }, (_, i) => (i % 7 === 0 ? null : i));
  const blob = new Uint8Array(200_000).map((_, i) => i & 0xff);
  const { values } = codec.decode(codec.encode(1, 2, (f) => [long, list, blob][f]));
  assert.equal(values[0], long);
  assert.deepEqual(values[1], list);
  assert.deepEqual(values[2], blob);
});

test('packed row: a value of the wrong type is refused naming feature and type; bad bytes are refused', () => {
  const cases: [ValueType, unknown, RegExp][] = [
    ['bool', 1, /feature 'v' \(bool\): expected bool, got number 1/],
    ['int32', 1.5, /feature 'v' \(int32\): expected int32/],
    ['int32', 2 ** 31, /expected int32/],
    ['int64', 2n ** 63n, /expected int64/],
    ['int64', 2 ** 60, /expected int64/],
    ['float64', '1.5', /feature 'v' \(float64\): expected float64, got string "1.5"/],
    ['float32', 1n, /expected float32/],
    ['string', 7, /expected string/],
    ['bytes', 'AQID', /expected bytes/],
    ['timestamp', new Date(), /expected timestamp/],
    ['list<int32>', 5, /feature 'v' \(list<int32>\): expected list<int32>/],
    ['list<int32>', [1, 'x'], /feature 'v' \(list<int32>\): list item 1: expected int32/],
  ];
  for (const [type, value, message] of cases) {
    const codec = new PackedRowCodec([{ name: 'v', type }]);
    assert.throws(() => codec.encode(0, 0, () => value as FeatureValue), (error: Error) => {
      assert.ok(error instanceof TypeError, `${type} ${String(value)}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => new PackedRowCodec([{ name: 'v', type: 'decimal' as ValueType }]), /feature 'v': unknown value type 'decimal'/);
  const codec = new PackedRowCodec([{ name: 'v', type: 'float64' }]);
  const good = codec.encode(1, 2, () => 3);
  assert.throws(() => codec.decode(good.subarray(0, good.length - 1)), /packed row ends/);
  assert.throws(() => codec.decode(Buffer.concat([good, Buffer.from([0])])), /1 byte\(s\) after its last feature/);
});
