import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { arrowOnlineColumns } from '../../pipelines/arrow-online-columns.ts';
import { rowKeysAndTimes } from '../../pipelines/row-conversion.ts';
import { encodeEntityKey } from '../../stores/online/key-layout.ts';
import { onlineTargetOf, type OnlineColumns, type OnlineRow } from '../../stores/online/online-store.ts';
import { everyType, everyTypeRows } from '../offline/offline-fixtures.ts';
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

/**
 * everyType's rows, one per user, as a rebuild's build sends them (build-partition.ts:
 * arrowOnlineColumns over the Arrow table it read): writeNewRows packs them from Arrow and writes
 * them with the blob write (packed-fresh-write-blob.lua.ts), not writePacked.
 */
function arrowRowsOf(users: readonly string[], eventTime: number): OnlineColumns {
  const base = everyTypeRows()[0]!;
  const table = toViewTable(everyType, users.map((user_id) => ({ ...base, user_id, event_timestamp: eventTime })), { allowMissingFeatures: true });
  const { keys } = rowKeysAndTimes(everyType, table);
  return arrowOnlineColumns(everyType, table, Int32Array.from(keys, (_, i) => i), keys);
}

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

test('the count follows the build write from Arrow (one blob per call): a build, its retry, expired rows, after the seal, a call failing halfway', async (t) => {
  const { store, raw } = await openTestStore(t, { packedRowsPerCall: 7 });
  const target = onlineTargetOf('shop', everyType, 1);
  const now = Date.now();
  await store.markGeneration(target);
  assert.equal(await store.countedRowKeys(target), 0);

  const built = arrowRowsOf(keysOf('u', 1000), now - HOUR);
  assert.ok(built.source, 'rows from Arrow');
  assert.deepEqual(await store.writeNewRows(target, built), { written: 1000, skipped: 0, expired: 0 });
  assert.equal(await store.countedRowKeys(target), 1000);
  // A retried chunk, the fence still open: put again plainly, no key new.
  assert.deepEqual(await store.writeNewRows(target, built), { written: 1000, skipped: 0, expired: 0 });
  assert.equal(await store.countedRowKeys(target), 1000);
  assert.equal(await store.countRowKeys(target), 1000);
  // Rows already past their expiry: over a stored one the key is deleted (one fewer), over none nothing changes.
  assert.deepEqual(await store.writeNewRows(target, arrowRowsOf(['u500', 'gone'], now - 30 * 24 * HOUR)), { written: 0, skipped: 0, expired: 2 });
  assert.equal(await store.countRowKeys(target), 999);
  assert.equal(await store.countedRowKeys(target), 999);

  // Sealed: a zombie build attempt (the monotonic path) skips its equal rows, counts the 5 entities it creates.
  await store.recordApplied(target, 3);
  assert.deepEqual(await store.writeNewRows(target, arrowRowsOf([...keysOf('u', 10), ...keysOf('n', 5)], now - HOUR)), { written: 5, skipped: 10, expired: 0 });
  assert.deepEqual(await store.writeNewRows(target, arrowRowsOf(keysOf('u', 20), now - 1000)), { written: 20, skipped: 0, expired: 0 });
  assert.equal(await store.countedRowKeys(target), 1004);
  assert.equal(await store.countRowKeys(target), 1004);

  // One call (one bucket's keys, monotonic) whose second row's key is a hash: the first row is written and counted.
  const candidates = keysOf('k', 4000);
  const { keys } = arrowRowsOf(candidates, now);
  const sameBucket = candidates.filter((_, i) => store.layout.packedRowKey(target, keys[i]!, 256).includes(':0}')).slice(0, 3);
  assert.equal(sameBucket.length, 3);
  const stopping = arrowRowsOf(sameBucket, now - HOUR);
  await raw.hset(store.layout.packedRowKey(target, stopping.keys[1]!, 256), 'not', 'a row');
  await assert.rejects(store.writeNewRows(target, stopping), /WRONGTYPE/);
  assert.equal(await store.countedRowKeys(target), 1005, 'the row written before the failure is counted');
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
