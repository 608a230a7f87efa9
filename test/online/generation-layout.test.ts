import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OnlineColumns, OnlineRow, OnlineTarget } from '../../stores/online/online-store.ts';
import { ROW_COMPARISON } from '../../stores/online/online-store.ts';
import { DEFAULT_BUCKETS, entityBucket } from '../../stores/online/generation-layout.ts';
import { openTestStore, storedFields, testTarget } from './online-fixtures.ts';

const HOUR = 3_600_000;
const row = (user: string, spend: number | null, eventTime: number, createdTime = 0): OnlineRow => ({
  entityKey: [user],
  values: { spend, orders: 3n, country: 'FR' },
  eventTime,
  createdTime,
});
const asColumns = (rows: readonly OnlineRow[], target: OnlineTarget): OnlineColumns => ({
  keys: rows.map((r) => String(r.entityKey[0])),
  eventTimes: rows.map((r) => r.eventTime),
  createdTimes: rows.map((r) => r.createdTime),
  values: Object.fromEntries(target.features.map((f) => [f.name, rows.map((r) => r.values[f.name] ?? null)])),
});

test('a new generation is layout 2 (marker: layout, buckets, features); a layout-1 marker stays layout 1 and its rows are hashes', async (t) => {
  const { store, raw } = await openTestStore(t);
  const { store: old } = await openTestStore(t, { keyPrefix: store.layout.prefix, newGenerationLayout: 1 });
  const g1 = testTarget({ generation: 1 });
  const g2 = testTarget({ generation: 2 });
  await old.markGeneration(g1);
  await store.markGeneration(g2);
  await store.markGeneration(g1); // an existing marker keeps its layout
  assert.deepEqual(await raw.hgetall(store.layout.markerKey(g2)), {
    createdAt: (await raw.hget(store.layout.markerKey(g2), 'createdAt'))!,
    layout: '2',
    buckets: String(DEFAULT_BUCKETS),
    features: '[["spend","float64"],["orders","int64"],["country","string"]]',
    rows: '0', // the count of its row keys its writes keep (a layout-1 marker has none)
  });
  assert.deepEqual(Object.keys(await raw.hgetall(store.layout.markerKey(g1))), ['createdAt']);
  assert.equal((await store.generationLayout(g1)).version, 1);
  assert.equal((await store.generationLayout(g2)).version, 2);

  // The same store writes each generation in its own layout, and reads both in one round trip.
  const now = Date.now();
  for (const g of [g1, g2]) assert.deepEqual(await store.writeRows(g, [row('u1', 1.5, now - HOUR), row('u2', null, now - HOUR, 4)]), { written: 2, skipped: 0, expired: 0 });
  assert.equal(await raw.type(await store.rowKey(g1, ['u1'])), 'hash');
  assert.equal(await raw.type(await store.rowKey(g2, ['u1'])), 'string');
  const key2 = await store.rowKey(g2, ['u1']);
  assert.equal(key2, `${store.layout.prefix}:{shop:user_stats:v1:g2:${entityBucket('u1', DEFAULT_BUCKETS)}}u1`);
  const [a, b] = await store.readRows([
    { target: g1, entityKeys: [['u1'], ['u2'], ['nobody']] },
    { target: g2, entityKeys: [['u2'], ['u1'], ['nobody']], features: ['country', 'spend'] },
  ]);
  assert.deepEqual(a, [
    { entityKey: ['u1'], values: { spend: 1.5, orders: 3n, country: 'FR' }, eventTime: now - HOUR, createdTime: 0 },
    { entityKey: ['u2'], values: { spend: null, orders: 3n, country: 'FR' }, eventTime: now - HOUR, createdTime: 4 },
    null,
  ]);
  assert.deepEqual(b, [
    { entityKey: ['u2'], values: { country: 'FR', spend: null }, eventTime: now - HOUR, createdTime: 4 },
    { entityKey: ['u1'], values: { country: 'FR', spend: 1.5 }, eventTime: now - HOUR, createdTime: 0 },
    null,
  ]);
  assert.deepEqual(await storedFields(store, raw, g1, ['u2']), ['__ct', '__et', 'country', 'orders']);
  assert.deepEqual(await storedFields(store, raw, g2, ['u2']), ['__ct', '__et', 'country', 'orders']);

  // Every operation follows the layout: monotonic, fenced fresh write, compare, replace, scan, count, drop.
  for (const g of [g1, g2]) {
    assert.deepEqual(await store.writeRows(g, [row('u1', 0, now - 2 * HOUR), row('u1', 2.5, now - HOUR, 1)]), { written: 1, skipped: 1, expired: 0 });
    assert.deepEqual(await store.writeNewRows(g, asColumns([row('u3', 3, now - HOUR)], g)), { written: 1, skipped: 0, expired: 0 });
    const expected = [row('u1', 2.5, now - HOUR, 1), row('u2', null, now - HOUR, 4), row('u3', 4, now - HOUR), row('u4', 1, now)];
    assert.deepEqual([...(await store.compareRows(g, asColumns(expected, g)))], [ROW_COMPARISON.same, ROW_COMPARISON.same, ROW_COMPARISON.differs, ROW_COMPARISON.absent]);
    assert.equal(await store.replaceRow(g, ['u3'], { eventTime: now - HOUR, createdTime: 0 }, row('u3', 4, now - 3 * HOUR)), 'written');
    assert.equal(await store.replaceRow(g, ['u3'], { eventTime: now - HOUR, createdTime: 0 }, null), 'conflict');
    const scanned: OnlineRow[] = [];
    for await (const batch of store.scanRows(g)) scanned.push(...batch);
    assert.deepEqual(scanned.map((r) => `${String(r.entityKey[0])}:${String(r.values.spend)}:${r.eventTime - now}`).sort(), [`u1:2.5:${-HOUR}`, `u2:null:${-HOUR}`, `u3:4:${-3 * HOUR}`]);
    assert.equal(await store.countRowKeys(g), 3);
  }
  assert.equal(await store.dropGeneration(g1), 4);
  assert.equal(await store.countRowKeys(g2), 3, 'dropping one generation leaves the other');
  assert.equal(await store.dropGeneration(g2), 4);
  assert.deepEqual(await raw.keys(`${store.layout.prefix}:*`), []);
});

test('layout 2: a nullable feature added in place is appended to the packing; rows packed before read it as null, a reordering changes nothing', async (t) => {
  const { store, raw } = await openTestStore(t);
  const { store: other } = await openTestStore(t, { keyPrefix: store.layout.prefix });
  const { store: scanner } = await openTestStore(t, { keyPrefix: store.layout.prefix });
  const before = testTarget();
  const now = Date.now();
  await store.markGeneration(before);
  await store.writeRows(before, [row('old', 1, now - HOUR)]);
  assert.equal((await other.readRows([{ target: before, entityKeys: [['old']] }]))[0]![0]!.values.spend, 1, 'the other process knows the packing now');
  assert.equal((await scanner.generationLayout(before)).features?.length, 3);

  // The view gains 'tier' in the middle of its features (additive, same version); the order changes too.
  const after: OnlineTarget = {
    ...before,
    features: [
      { name: 'country', type: 'string' },
      { name: 'tier', type: 'string' },
      { name: 'spend', type: 'float64' },
      { name: 'orders', type: 'int64' },
    ],
  };
  await store.writeRows(after, [{ entityKey: ['new'], values: { spend: 2, tier: 'gold', orders: null, country: 'DE' }, eventTime: now - HOUR, createdTime: 0 }]);
  assert.equal(await raw.hget(store.layout.markerKey(before), 'features'), '[["spend","float64"],["orders","int64"],["country","string"],["tier","string"]]');
  // The other process still holds the old packing: a row packed with more features makes it read the marker again.
  const [rows] = await other.readRows([{ target: after, entityKeys: [['old'], ['new']] }]);
  assert.deepEqual(rows!.map((r) => r?.values), [
    { country: 'FR', tier: null, spend: 1, orders: 3n },
    { country: 'DE', tier: 'gold', spend: 2, orders: null },
  ]);
  // A scan by a process holding the old packing reads it again when it meets a newer row.
  const scanned: OnlineRow[] = [];
  for await (const batch of scanner.scanRows(after)) scanned.push(...batch);
  assert.deepEqual(scanned.map((r) => r.values.tier).sort(), ['gold', null]);
  // The old target (without 'tier') still reads and writes.
  assert.deepEqual((await other.readRows([{ target: before, entityKeys: [['new']] }]))[0]![0]!.values, { spend: 2, orders: null, country: 'DE' });
  // A type change in place is refused (it is a breaking change: a new view version).
  const retyped: OnlineTarget = { ...after, features: after.features.map((f) => (f.name === 'tier' ? { ...f, type: 'int32' } : f)) };
  await assert.rejects(store.writeRows(retyped, [row('x', 1, now)]), /feature 'tier' is int32, generation 1 packs it as string/);
});
