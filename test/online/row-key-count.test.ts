import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeEntityKey } from '../../stores/online/key-layout.ts';
import type { OnlineColumns, OnlineRow } from '../../stores/online/online-store.ts';
import { openTestStore, testTarget } from './online-fixtures.ts';

/**
 * The count of a layout-2 generation's row keys that its writes keep (packed-write-many.lua.ts):
 * the rebuild's finishVerify reads it instead of a SCAN of the keyspace, so it must never be
 * lower than the keys Granary wrote. Each step below compares it with countRowKeys (SCAN).
 */
const HOUR = 3_600_000;

function rowsOf(keys: readonly string[], eventTime: number, spend = 1): OnlineRow[] {
  return keys.map((key) => ({ entityKey: [key], values: { spend, orders: 7n, country: 'fr' }, eventTime, createdTime: 0 }));
}

function columnsOf(rows: readonly OnlineRow[]): OnlineColumns {
  return {
    keys: rows.map((r) => encodeEntityKey(r.entityKey)),
    eventTimes: rows.map((r) => r.eventTime),
    createdTimes: rows.map((r) => r.createdTime),
    values: { spend: rows.map((r) => r.values.spend ?? null), orders: rows.map((r) => r.values.orders ?? null), country: rows.map((r) => r.values.country ?? null) },
  };
}

const keysOf = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);

test('the count of row keys follows every write: a build, its retry, the catch-up, an expired row, a repair', async (t) => {
  const { store } = await openTestStore(t, { packedRowsPerCall: 7 });
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  assert.equal(await store.countedRowKeys(target), 0);

  const built = rowsOf(keysOf('u', 1000), now - HOUR);
  await store.writeNewRows(target, columnsOf(built));
  assert.equal(await store.countedRowKeys(target), 1000);
  await store.writeNewRows(target, columnsOf(built)); // a retried chunk: the same keys, none new
  assert.equal(await store.countedRowKeys(target), 1000);
  assert.equal(await store.countRowKeys(target), 1000);
  // A row already past its expiry, put over a stored one: the key is deleted, one fewer.
  await store.writeNewRows(target, columnsOf(rowsOf(['u500'], now - 30 * 24 * HOUR)));
  assert.equal(await store.countRowKeys(target), 999);
  assert.equal(await store.countedRowKeys(target), 999);

  // The build is sealed; the catch-up writes 100 newer rows of built entities and 50 new entities.
  await store.recordApplied(target, 3);
  await store.writeRows(target, [...rowsOf(keysOf('u', 100), now - 1000, 2), ...rowsOf(keysOf('n', 50), now - 1000, 2)]);
  assert.equal(await store.countedRowKeys(target), 1049);
  // A zombie build attempt after the seal (the monotonic path): older rows skipped, nothing new.
  await store.writeNewRows(target, columnsOf(built.slice(0, 10)));
  assert.equal(await store.countedRowKeys(target), 1049);

  // A repair deletes one row, then writes one entity that had none.
  const stored = (await store.readRows([{ target, entityKeys: [['u600']] }]))[0]![0]!;
  assert.equal(await store.replaceRow(target, ['u600'], { eventTime: stored.eventTime, createdTime: stored.createdTime }, null), 'deleted');
  assert.equal(await store.replaceRow(target, ['r1'], null, rowsOf(['r1'], now - 1000)[0]!), 'written');
  assert.equal(await store.countedRowKeys(target), 1049);
  assert.equal(await store.countRowKeys(target), 1049);
});

test('a call that fails halfway still counts the rows it wrote (a key of another type stops the monotonic write)', async (t) => {
  const { store, raw } = await openTestStore(t, { packedRowsPerCall: 100 });
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  await store.recordApplied(target, 1); // the monotonic path, which reads the stored row first
  // One bucket's keys, so that they go in one call; the middle one is a hash nobody should have written.
  const sameBucket = keysOf('k', 4000).filter((key) => store.layout.packedRowKey(target, key, 256).includes(':0}')).slice(0, 3);
  assert.equal(sameBucket.length, 3);
  await raw.hset(store.layout.packedRowKey(target, sameBucket[1]!, 256), 'not', 'a row');
  await assert.rejects(store.writeRows(target, rowsOf(sameBucket, now - HOUR)), /WRONGTYPE/);
  assert.equal(await store.countedRowKeys(target), 1, 'the row written before the failure is counted');
});

test('rows written while the marker was gone leave the recreated marker uncounted; layout 1 keeps no count', async (t) => {
  const { store, raw } = await openTestStore(t);
  const target = testTarget({ generation: 4 });
  const now = Date.now();
  await store.markGeneration(target);
  await store.writeNewRows(target, columnsOf(rowsOf(keysOf('u', 300), now - HOUR)));
  // Redis lost the marker (not the rows, as a hand-made DEL would); a zombie write goes on meanwhile.
  await raw.del(store.layout.markerKey(target));
  await store.writeRows(target, rowsOf(keysOf('z', 20), now - HOUR));
  await store.markGeneration(target);
  assert.equal(await store.countedRowKeys(target), undefined, 'a count from 0 would miss 320 keys');
  assert.equal(await store.countRowKeys(target), 320);
  await store.dropGeneration(target);
  assert.equal(await raw.exists(store.layout.uncountedKey(store.layout.markerKey(target))), 0, 'the drop takes the uncounted key too');

  const { store: old } = await openTestStore(t, { newGenerationLayout: 1 });
  const g = testTarget({ generation: 5 });
  await old.markGeneration(g);
  await old.writeRows(g, rowsOf(keysOf('u', 10), now - HOUR));
  assert.equal(await old.countedRowKeys(g), undefined);
});
