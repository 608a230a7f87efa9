import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OnlineColumns, OnlineRow } from '../../stores/online/online-store.ts';
import { openTestStore, testTarget } from './online-fixtures.ts';

const HOUR = 3_600_000;
/** Rows of testTarget() as columns (writeNewRows takes them so). */
function columns(rows: readonly { key: string; spend: number | null; eventTime: number; createdTime?: number }[]): OnlineColumns {
  return {
    keys: rows.map((r) => r.key),
    eventTimes: rows.map((r) => r.eventTime),
    createdTimes: rows.map((r) => r.createdTime ?? 0),
    values: { spend: rows.map((r) => r.spend), orders: rows.map(() => 7n) },
  };
}

test('writeNewRows: plain puts while the marker records no applied commit, the monotonic write once it does or when the marker is gone', async (t) => {
  // Two rows per call: a write of several rows takes several calls.
  const { store, raw } = await openTestStore(t, { rowsPerCall: 2 });
  const target = testTarget();
  const now = Date.now();
  const spendOf = async (keys: string[]) => (await store.readRows([{ target, entityKeys: keys.map((k) => [k]) }]))[0]!.map((r: OnlineRow | null) => r?.values.spend ?? null);

  await store.markGeneration(target);
  const built = [
    { key: 'a', spend: 1, eventTime: now - HOUR },
    { key: 'b', spend: null, eventTime: now - HOUR, createdTime: 3 },
    { key: 'gone', spend: 1, eventTime: now - 30 * 24 * HOUR }, // past its expiry: not kept
  ];
  assert.deepEqual(await store.writeNewRows(target, columns(built)), { written: 2, skipped: 0, expired: 1 });
  // The same rows again (a retried build): written again, same result.
  assert.deepEqual(await store.writeNewRows(target, columns(built)), { written: 2, skipped: 0, expired: 1 });
  assert.deepEqual(await spendOf(['a', 'b', 'gone']), [1, null, null]);
  const [b] = (await store.readRows([{ target, entityKeys: [['b']] }]))[0]!;
  assert.deepEqual(b, { entityKey: ['b'], values: { spend: null, orders: 7n, country: null }, eventTime: now - HOUR, createdTime: 3 });
  assert.ok((await raw.pttl(await store.rowKey(target, ['a']))) > 0);

  // The build is marked done; a catch-up writes a newer row of 'a'.
  assert.equal(await store.recordApplied(target, 5), 5);
  assert.deepEqual(await store.writeRows(target, [{ entityKey: ['a'], values: { spend: 2 }, eventTime: now - 1000, createdTime: 0 }]), { written: 1, skipped: 0, expired: 0 });
  // A zombie build attempt still writing: its older row no longer overwrites; a newer one does.
  const late = [
    { key: 'a', spend: 1, eventTime: now - HOUR },
    { key: 'c', spend: 3, eventTime: now - HOUR },
  ];
  assert.deepEqual(await store.writeNewRows(target, columns(late)), { written: 1, skipped: 1, expired: 0 });
  assert.deepEqual(await spendOf(['a', 'c']), [2, 3]);

  // No marker (Redis lost the generation): monotonic too.
  await raw.del(store.layout.markerKey(target));
  assert.deepEqual(await store.writeNewRows(target, columns([{ key: 'a', spend: 9, eventTime: now - HOUR }])), { written: 0, skipped: 1, expired: 0 });
  assert.deepEqual(await spendOf(['a']), [2]);
  assert.deepEqual(await store.writeNewRows(target, columns([])), { written: 0, skipped: 0, expired: 0 });
});
