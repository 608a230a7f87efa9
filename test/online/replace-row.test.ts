import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OnlineRow, OnlineTarget } from '../../stores/online/online-store.ts';
import type { EntityKey } from '../../definitions/feature-value.ts';
import type { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { openTestStore, testTarget } from './online-fixtures.ts';

/** The repair write (replace-row.lua.ts): unconditional on times, conditional on the row the caller read. */
const HOUR = 3_600_000;
const FUTURE = Date.UTC(9999, 11, 31, 23, 59, 59);
const row = (values: OnlineRow['values'], eventTime: number, createdTime = 0, entityKey: EntityKey = ['u1']): OnlineRow => ({ entityKey, values, eventTime, createdTime });

async function readOne(store: RedisOnlineStore, target: OnlineTarget, entityKey: EntityKey = ['u1']): Promise<OnlineRow | null> {
  const [[found]] = (await store.readRows([{ target, entityKeys: [entityKey] }])) as [[OnlineRow | null]];
  return found;
}

test('replaceRow puts an older row over a far-future one, only if the stored row is still the one read', async (t) => {
  const { store } = await openTestStore(t);
  const target = testTarget();
  const t0 = Date.now() - HOUR;
  const poisoned = row({ spend: 1, orders: 1n, country: 'XX' }, FUTURE, FUTURE);
  await store.writeRows(target, [poisoned]);
  const good = row({ spend: 12.5, orders: 3n, country: 'FR' }, t0, 7);
  // The monotonic write cannot do it; the replace can.
  assert.deepEqual(await store.writeRows(target, [good]), { written: 0, skipped: 1, expired: 0 });
  assert.equal(await store.replaceRow(target, ['u1'], { eventTime: t0, createdTime: 7 }, good), 'conflict', 'not the stored row: nothing changes');
  assert.deepEqual(await readOne(store, target), poisoned);
  assert.equal(await store.replaceRow(target, ['u1'], null, good), 'conflict', 'a row is stored, the caller read none');
  assert.equal(await store.replaceRow(target, ['u1'], { eventTime: FUTURE, createdTime: FUTURE }, good), 'written');
  assert.deepEqual(await readOne(store, target), good);
  // Monotonic writes go on from the repaired row.
  assert.deepEqual(await store.writeRows(target, [row({ spend: 13, orders: 4n, country: 'FR' }, t0 + 1000)]), { written: 1, skipped: 0, expired: 0 });
  // No valid row: the entity is deleted; an absent row read as absent can be written.
  assert.equal(await store.replaceRow(target, ['u1'], { eventTime: t0 + 1000, createdTime: 0 }, null), 'deleted');
  assert.equal(await readOne(store, target), null);
  assert.equal(await store.replaceRow(target, ['u2'], null, row({ spend: 2, orders: 2n, country: 'DE' }, t0, 0, ['u2'])), 'written');
  assert.equal((await readOne(store, target, ['u2']))?.values.country, 'DE');
  // A row already past its expiry is not kept.
  const old = Date.now() - 30 * 24 * HOUR;
  assert.equal(await store.replaceRow(target, ['u2'], { eventTime: t0, createdTime: 0 }, row({ spend: 1, orders: 1n, country: 'PT' }, old, 0, ['u2'])), 'expired');
  assert.equal(await readOne(store, target, ['u2']), null);
});
