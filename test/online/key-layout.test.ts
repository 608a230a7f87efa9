// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyLayout, decodeEntityKey, encodeEntityKey } from '../../stores/online/key-layout.ts';
import { hashSlot } from '../../stores/online/hash-slot.ts';
import type { EntityKey } from '../../definitions/feature-value.ts';
import { testTarget } from './online-fixtures.ts';

const composite = testTarget({
  joinKeys: [
    { name: 'merchant', type: 'string' },
    { name: 'user_id', type: 'int64' },
    { name: 'shard', type: 'int32' },
  ],
});

test('key layout: the documented keys', () => {
  const layout = new KeyLayout('granary');
  const target = testTarget({ project: 'fraud', view: 'user_spend', generation: 3, joinKeys: [{ name: 'u', type: 'string' }, { name: 'n', type: 'int64' }] });
  assert.equal(layout.rowKey(target, ['u|1', 7n]), 'granary:fraud:user_spend:v1:g3:e:u%7C1|7');
  assert.equal(layout.markerKey(target), 'granary:fraud:user_spend:v1:g3:marker');
  assert.equal(layout.rowPattern(target), 'granary:fraud:user_spend:v1:g3:e:*');
  assert.equal(layout.generationPattern(target), 'granary:fraud:user_spend:v1:g3:*');
  assert.deepEqual(layout.entityKeyOf(target, 'granary:fraud:user_spend:v1:g3:e:u%7C1|7'), ['u|1', 7n]);
});

test('key layout: a bucket marker (Redis Cluster) shares its bucket\'s slot and stays out of the rows\' pattern', () => {
  const layout = new KeyLayout('granary');
  const target = testTarget({ project: 'fraud', view: 'user_spend', generation: 3 });
  assert.equal(layout.bucketMarkerKey(target, 17), 'granary:marker{fraud:user_spend:v1:g3:17}');
  assert.equal(layout.bucketMarkerPattern(target), 'granary:marker{fraud:user_spend:v1:g3:*');
  const row = layout.packedRowKey(target, 'u1', 256);
  const bucket = Number(/:(\d+)\}/.exec(row)![1]);
  assert.equal(hashSlot(layout.bucketMarkerKey(target, bucket)), hashSlot(row));
  assert.ok(!layout.bucketMarkerKey(target, bucket).startsWith(layout.packedTagPrefix(target)), 'SCAN of the rows never meets a marker');
  assert.ok(!layout.bucketMarkerKey(target, bucket).startsWith(layout.generationPrefix(target)));
});

test('key layout: composite entity keys round trip, separators and escapes included', () => {
  const layout = new KeyLayout('granary');
  const keys: EntityKey[] = [
    ['plain', 1n, 2],
    ['', 0n, 0],
    ['a|b', -(2n ** 63n), -(2 ** 31)],
    ['%7C', 2n ** 63n - 1n, 2 ** 31 - 1],
    ['%', 5n, 1],
    ['|', 5n, 1],
    ['|%|%25|', 5n, 1],
    ['with:colons:and*glob?[x]\\', 5n, 1],
    ['ünï 🚀', 5n, 1],
  ];
  const rowKeys = new Set<string>();
  for (const key of keys) {
    const rowKey = layout.rowKey(composite, key);
    rowKeys.add(rowKey);
    assert.deepEqual(layout.entityKeyOf(composite, rowKey), key);
  }
  assert.equal(rowKeys.size, keys.length);
});

test('key layout: values that differ only in where a separator falls get different keys', () => {
  const two = [{ name: 'a', type: 'string' }, { name: 'b', type: 'string' }] as const;
  const encoded = [['a|', 'b'], ['a', '|b'], ['a|b', ''], ['', 'a|b']].map((k) => encodeEntityKey(k, two));
  assert.equal(new Set(encoded).size, 4);
  for (const text of encoded) assert.equal(decodeEntityKey(text, two).length, 2);
});

test('key layout: an integer is one key whether number or bigint, and is decoded by its type', () => {
  const int64 = [{ name: 'id', type: 'int64' }] as const;
  const int32 = [{ name: 'id', type: 'int32' }] as const;
  assert.equal(encodeEntityKey([42], int64), encodeEntityKey([42n], int64));
  assert.deepEqual(decodeEntityKey('42', int64), [42n]);
  assert.deepEqual(decodeEntityKey('42', int32), [42]);
  assert.equal(encodeEntityKey(['a|b', 42n]), encodeEntityKey(['a|b', 42n], composite.joinKeys.slice(0, 2)));
});

test('key layout: entity keys of the wrong arity or type are refused, naming the join key', () => {
  assert.throws(() => encodeEntityKey(['x'], composite.joinKeys), /has 1 value\(s\), expected 3 \(merchant, user_id, shard\)/);
  assert.throws(() => encodeEntityKey(['x', 'y', 1], composite.joinKeys), /join key 'user_id' \(int64\): invalid value "y"/);
  assert.throws(() => encodeEntityKey(['x', 1n, 2 ** 31], composite.joinKeys), /join key 'shard' \(int32\)/);
  assert.throws(() => encodeEntityKey([1, 1n, 1], composite.joinKeys), /join key 'merchant' \(string\)/);
  assert.throws(() => encodeEntityKey([1.5]), /entity key: invalid value 1.5/);
});

test('key layout: generations, versions and views never share a glob', () => {
  const layout = new KeyLayout('granary');
  const g1 = testTarget({ generation: 1 });
  const glob = new RegExp(`^${layout.generationPattern(g1).replace(/\*$/, '.*')}$`);
  assert.ok(glob.test(layout.rowKey(g1, ['x'])));
  assert.ok(glob.test(layout.markerKey(g1)));
  assert.ok(!glob.test(layout.rowKey(testTarget({ generation: 10 }), ['x'])));
  assert.ok(!glob.test(layout.rowKey(testTarget({ version: 11 }), ['x'])));
  assert.ok(!glob.test(layout.rowKey(testTarget({ view: 'user_stats_v2' }), ['x'])));
});

test('key layout: glob characters in the prefix are escaped in patterns', () => {
  const layout = new KeyLayout('team*[a]');
  assert.equal(layout.rowPattern(testTarget()), 'team\\*\\[a\\]:shop:user_stats:v1:g1:e:*');
  assert.throws(() => new KeyLayout(''), /must not be empty/);
});
