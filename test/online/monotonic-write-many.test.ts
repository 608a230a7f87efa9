import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OnlineRow, OnlineTarget } from '../../stores/online/online-store.ts';
import type { EntityKey } from '../../definitions/feature-value.ts';
import { MONOTONIC_WRITE_MANY_LUA } from '../../stores/online/monotonic-write-many.lua.ts';
import type { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { openTestStore, storedFields, testTarget } from './online-fixtures.ts';

/** The monotonic write with many rows in one script call (monotonic-write-many.lua.ts). */
const HOUR = 3_600_000;
const row = (entity: string, values: OnlineRow['values'], eventTime: number, createdTime = 0): OnlineRow => ({
  entityKey: [entity],
  values,
  eventTime,
  createdTime,
});
// Fewer rows than rowsPerCall and writeChunkSize: one writeRows is one script call.
const ONE_CALL = { rowsPerCall: 100, writeChunkSize: 100, writeChunksInFlight: 1 };

async function readAll(store: RedisOnlineStore, target: OnlineTarget, entities: readonly string[]): Promise<Record<string, OnlineRow | null>> {
  const [found] = (await store.readRows([{ target, entityKeys: entities.map((e): EntityKey => [e]) }])) as [(OnlineRow | null)[]];
  return Object.fromEntries(entities.map((e, i) => [e, found[i]!]));
}

test('one call of many rows: each row obeys the monotonic rules, and a key twice in a call is compared against its first row', async (t) => {
  const { store, raw } = await openTestStore(t, ONE_CALL);
  const { store: longGrace } = await openTestStore(t, { keyPrefix: store.layout.prefix, expiryGraceSeconds: 86_400 });
  const target = testTarget({ ttlSeconds: 60 });
  const now = Date.now();
  const t0 = now - 10 * 60_000;
  const stored = {
    older: row('older', { spend: 1 }, t0, 5),
    newer: row('newer', { spend: 1 }, t0, 5),
    correction: row('correction', { spend: 1 }, t0, 5),
    equal: row('equal', { spend: 1 }, t0, 5),
    nulls: row('nulls', { spend: 1.5, orders: 3n, country: 'FR' }, t0),
    twiceSkip: row('twiceSkip', { spend: 1 }, t0),
  };
  assert.deepEqual(await store.writeRows(target, Object.values(stored)), { written: 6, skipped: 0, expired: 0 });
  // Kept thanks to a long grace; superseded below by a newer row whose default expiry (61 min) has passed.
  const expiring = row('expired', { spend: 1 }, now - 3 * HOUR);
  assert.deepEqual(await longGrace.writeRows(target, [expiring]), { written: 1, skipped: 0, expired: 0 });

  const batch = [
    row('older', { spend: 2 }, t0 - 1, 999), // older event time: skipped
    row('newer', { spend: 2 }, t0 + 1, 0), // newer event time: replaces
    row('correction', { spend: 2 }, t0, 6), // equal event time, greater created time: replaces
    row('equal', { spend: 2 }, t0, 5), // equal pair: skipped
    row('nulls', { spend: null, orders: 4n }, t0 + 1), // newer with nulls: clears the older values
    row('expired', { spend: 2 }, now - 2 * HOUR), // newer but past its expiry: deletes the older row, keeps nothing
    row('fresh', { country: 'DE' }, t0), // nothing stored: written
    row('twiceSkip', { spend: 3 }, t0 + 2000), // replaces the stored row...
    row('twiceSkip', { spend: 4 }, t0 + 1000), // ...then is older than that first row (newer than the stored one): skipped
    row('twiceWin', { spend: 5 }, t0, 1),
    row('twiceWin', { spend: 6 }, t0, 2), // greater than the first row of the call: replaces it
  ];
  assert.deepEqual(await store.writeRows(target, batch), { written: 7, skipped: 3, expired: 1 });

  const state = await readAll(store, target, ['older', 'newer', 'correction', 'equal', 'nulls', 'expired', 'fresh', 'twiceSkip', 'twiceWin']);
  assert.deepEqual(state.older, { ...stored.older, values: { spend: 1, orders: null, country: null } });
  assert.deepEqual(state.newer, { ...batch[1]!, values: { spend: 2, orders: null, country: null } });
  assert.deepEqual(state.correction, { ...batch[2]!, values: { spend: 2, orders: null, country: null } });
  assert.deepEqual(state.equal, { ...stored.equal, values: { spend: 1, orders: null, country: null } });
  assert.deepEqual(state.nulls?.values, { spend: null, orders: 4n, country: null });
  assert.deepEqual(await storedFields(store, raw, target, ['nulls']), ['__ct', '__et', 'orders']);
  assert.equal(state.expired, null);
  assert.equal(await raw.exists(await store.rowKey(target, ['expired'])), 0);
  assert.deepEqual(state.fresh?.values, { spend: null, orders: null, country: 'DE' });
  assert.deepEqual(state.twiceSkip, { ...batch[7]!, values: { spend: 3, orders: null, country: null } });
  assert.deepEqual(state.twiceWin, { ...batch[10]!, values: { spend: 6, orders: null, country: null } });
  // Every written row expires at event time + TTL + grace (default grace: 1 hour here).
  assert.equal(Number(await raw.pexpiretime(await store.rowKey(target, ['fresh']))), t0 + (60 + 3600) * 1000);
});

test('one call of many rows: a bad row in the middle throws a TypeError naming it, and nothing of the call is written', async (t) => {
  const { store, raw, prefix } = await openTestStore(t, ONE_CALL);
  const target = testTarget();
  const t0 = Date.now() - HOUR;
  const good = (entity: string) => row(entity, { spend: 1, orders: 1n }, t0);
  for (const [bad, message] of [
    [row('bad', { orders: 1.5 }, t0), /feature view 'user_stats', entity \["bad"\], feature 'orders' \(int64\): expected int64, got number 1.5/],
    [row('bad', {}, Infinity), /entity \["bad"\]: eventTime and createdTime must be finite ms, got Infinity and 0/],
    [{ ...row('bad', {}, t0), entityKey: ['a', 'b'] }, /feature view 'user_stats': .*has 2 value\(s\), expected 1 \(user_id\)/],
  ] as const) {
    await assert.rejects(store.writeRows(target, [good('a'), good('b'), bad, good('c'), good('d')]), (error: Error) => {
      assert.ok(error instanceof TypeError, `${error.name}: ${error.message}`);
      assert.match(error.message, message);
      return true;
    });
    assert.deepEqual(await raw.keys(`${prefix}:*`), [], 'nothing of the call reached Redis');
  }
});

test('the script refuses a malformed call before writing anything', async (t) => {
  const { store, raw, prefix } = await openTestStore(t);
  const target = testTarget();
  const [k1, k2] = [store.layout.rowKey(target, ['a']), store.layout.rowKey(target, ['b'])];
  const t0 = String(Date.now());
  const expireAt = String(Date.now() + HOUR);
  // The second row says one pair but the call ends early.
  await assert.rejects(raw.eval(MONOTONIC_WRITE_MANY_LUA, 2, k1, k2, t0, '0', expireAt, '1', 'spend', '1', t0, '0', expireAt, '1', 'spend'), /2 rows need 12 arguments, got 11/);
  await assert.rejects(raw.eval(MONOTONIC_WRITE_MANY_LUA, 2, k1, k2, t0, '0', expireAt, '0', 'soon', '0', expireAt, '0'), /row 2 .* has no numeric times/);
  assert.deepEqual(await raw.keys(`${prefix}:*`), []);
  // Well formed: both rows written.
  assert.deepEqual(await raw.eval(MONOTONIC_WRITE_MANY_LUA, 2, k1, k2, t0, '0', expireAt, '1', 'spend', '1', t0, '0', expireAt, '0'), [2, 0, 0]);
});
