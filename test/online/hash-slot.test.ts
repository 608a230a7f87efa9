import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc16, groupBySlot, hashSlot } from '../../stores/online/hash-slot.ts';
import { KeyLayout } from '../../stores/online/key-layout.ts';
import { testTarget } from './online-fixtures.ts';

test('hash slot: CRC16/XMODEM mod 16384, as Redis Cluster computes it', () => {
  // The check value of CRC16/XMODEM, and slots from the Redis Cluster specification and CLUSTER KEYSLOT.
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  assert.equal(hashSlot('123456789'), 12739);
  assert.equal(hashSlot('foo'), 12182);
  assert.equal(hashSlot('bar'), 5061);
  assert.equal(hashSlot('é日本'), 1826, 'hashed as UTF-8 bytes');
});

test('hash slot: only a non-empty hash tag is hashed', () => {
  assert.equal(hashSlot('{user1000}.following'), hashSlot('user1000'));
  assert.equal(hashSlot('{user1000}.followers'), hashSlot('user1000'));
  assert.equal(hashSlot('foo{}{bar}'), crc16(Buffer.from('foo{}{bar}')) % 16384, 'an empty first tag: the whole key');
  assert.equal(hashSlot('foo{{bar}}zap'), hashSlot('{bar'));
  assert.equal(hashSlot('foo{bar}{zap}'), hashSlot('bar'));
  assert.equal(hashSlot('x{y'), 2740, 'no closing brace: the whole key');
});

test('groupBySlot: the indices of each slot, in order; untagged row keys spread over slots', () => {
  assert.deepEqual([...groupBySlot(['foo', 'bar', '{foo}x', 'foo'])], [[12182, [0, 2, 3]], [5061, [1]]]);
  assert.deepEqual([...groupBySlot([])], []);
  const layout = new KeyLayout('granary');
  const keys = Array.from({ length: 1000 }, (_, i) => layout.rowKey(testTarget(), [`u${i}`]));
  const groups = groupBySlot(keys);
  assert.ok(groups.size > 900, `row keys carry no hash tag: ${groups.size} slots for 1000 keys`);
  assert.deepEqual([...groups.values()].flat().sort((a, b) => a - b), keys.map((_, i) => i));
});
