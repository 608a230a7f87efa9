import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OnlineRow, OnlineTarget } from '../../stores/online/online-store.ts';
import type { EntityKey } from '../../definitions/feature-value.ts';
import { encodeEntityKey } from '../../stores/online/key-layout.ts';
import { rowExpiresAt } from '../../stores/online/row-expiry.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { openTestStore, seededRandom, shuffled, STACK_REDIS_URL, storedFields, testTarget } from './online-fixtures.ts';

const HOUR = 3_600_000;
const row = (values: OnlineRow['values'], eventTime: number, createdTime = 0, entityKey: EntityKey = ['u1']): OnlineRow => ({
  entityKey,
  values,
  eventTime,
  createdTime,
});

async function readOne(store: RedisOnlineStore, target: OnlineTarget, entityKey: EntityKey = ['u1']): Promise<OnlineRow | null> {
  const [[found]] = (await store.readRows([{ target, entityKeys: [entityKey] }])) as [[OnlineRow | null]];
  return found;
}

test('monotonic write: newer replaces; older and equal are no-ops', async (t) => {
  const { store } = await openTestStore(t);
  const target = testTarget();
  const t0 = Date.now() - HOUR;
  const first = row({ spend: 10, orders: 1n, country: 'FR' }, t0, 5);
  assert.deepEqual(await store.writeRows(target, [first]), { written: 1, skipped: 0, expired: 0 });
  assert.deepEqual(await readOne(store, target), first);

  const newer = row({ spend: 20, orders: 2n, country: 'DE' }, t0 + 1000, 0);
  assert.deepEqual(await store.writeRows(target, [newer]), { written: 1, skipped: 0, expired: 0 });
  assert.deepEqual(await readOne(store, target), newer);

  const older = row({ spend: 99, orders: 9n, country: 'XX' }, t0, 999);
  const equal = row({ spend: 77, orders: 7n, country: 'YY' }, t0 + 1000, 0);
  assert.deepEqual(await store.writeRows(target, [older, equal]), { written: 0, skipped: 2, expired: 0 });
  assert.deepEqual(await readOne(store, target), newer);
});

test('monotonic write: same event time with a newer created time replaces (a correction); an older one does not', async (t) => {
  const { store } = await openTestStore(t);
  const target = testTarget();
  const t0 = Date.now() - HOUR;
  await store.writeRows(target, [row({ spend: 1, orders: 1n, country: 'FR' }, t0, 100)]);
  const correction = row({ spend: 2, orders: 1n, country: 'FR' }, t0, 101);
  assert.deepEqual(await store.writeRows(target, [correction]), { written: 1, skipped: 0, expired: 0 });
  assert.deepEqual(await readOne(store, target), correction);
  assert.deepEqual(await store.writeRows(target, [row({ spend: 3, orders: 1n, country: 'FR' }, t0, 100)]), {
    written: 0,
    skipped: 1,
    expired: 0,
  });
  assert.deepEqual(await readOne(store, target), correction);
});

test('monotonic write: a null in a newer row clears the older value (the whole row is replaced)', async (t) => {
  const { store, raw } = await openTestStore(t);
  const target = testTarget();
  const t0 = Date.now() - HOUR;
  await store.writeRows(target, [row({ spend: 1.5, orders: 3n, country: 'FR' }, t0)]);
  await store.writeRows(target, [row({ spend: null, orders: 4n }, t0 + 1)]);
  assert.deepEqual((await readOne(store, target))?.values, { spend: null, orders: 4n, country: null });
  assert.deepEqual(await storedFields(store, raw, target, ['u1']), ['__ct', '__et', 'orders']);
});

test('monotonic write: rows expire at event time + TTL + grace; grace defaults to max(TTL, 1 hour)', async (t) => {
  const { store, raw } = await openTestStore(t);
  const { store: shortGrace } = await openTestStore(t, { expiryGraceSeconds: 10 });
  const now = Date.now();
  const expiryOf = async (s: RedisOnlineStore, target: OnlineTarget) => Number(await raw.pexpiretime(await s.rowKey(target, ['u1'])));

  const minute = testTarget({ view: 'minute', ttlSeconds: 60 });
  await store.writeRows(minute, [row({ spend: 1 }, now - 1000)]);
  assert.equal(await expiryOf(store, minute), now - 1000 + (60 + 3600) * 1000);

  const twoDays = testTarget({ view: 'two_days', ttlSeconds: 2 * 86_400 });
  await store.writeRows(twoDays, [row({ spend: 1 }, now - 1000)]);
  assert.equal(await expiryOf(store, twoDays), now - 1000 + 4 * 86_400_000);
  assert.equal(await expiryOf(store, twoDays), rowExpiresAt(twoDays.ttlSeconds, now - 1000));

  await shortGrace.writeRows(minute, [row({ spend: 1 }, now - 1000)]);
  assert.equal(await expiryOf(shortGrace, minute), now - 1000 + 70_000);
});

test('monotonic write: a newer row already past its expiry removes the older row and keeps nothing', async (t) => {
  const { store, raw } = await openTestStore(t);
  const { store: longGrace } = await openTestStore(t, { keyPrefix: store.layout.prefix, expiryGraceSeconds: 86_400 });
  const target = testTarget({ ttlSeconds: 60 });
  const now = Date.now();
  // Kept thanks to a long grace, then superseded by a newer row whose default expiry (61 min) has passed.
  assert.deepEqual(await longGrace.writeRows(target, [row({ spend: 1 }, now - 3 * HOUR)]), { written: 1, skipped: 0, expired: 0 });
  assert.deepEqual(await store.writeRows(target, [row({ spend: 2 }, now - 2 * HOUR)]), { written: 0, skipped: 0, expired: 1 });
  assert.equal(await raw.exists(await store.rowKey(target, ['u1'])), 0);
  assert.equal(await readOne(store, target), null);
  // A row inside its expiry still lands afterwards.
  assert.deepEqual(await store.writeRows(target, [row({ spend: 3 }, now - 1000)]), { written: 1, skipped: 0, expired: 0 });
});

test('monotonic write: bad rows are refused, naming view, entity and feature', async (t) => {
  const { store } = await openTestStore(t);
  const target = testTarget();
  await assert.rejects(store.writeRows(target, [row({ orders: 1.5 }, Date.now())]), /feature view 'user_stats', entity \["u1"\], feature 'orders' \(int64\): expected int64, got number 1.5/);
  await assert.rejects(store.writeRows(target, [row({}, NaN)]), /eventTime and createdTime must be finite ms/);
  await assert.rejects(store.writeRows(target, [row({}, Date.now(), 0, ['a', 'b'])]), /has 2 value\(s\), expected 1 \(user_id\)/);
  assert.equal(await readOne(store, target), null);
});

test('convergence: the same rows in random orders, duplicated, from concurrent writers, end in the max per entity', async (t) => {
  const { store, prefix } = await openTestStore(t);
  const random = seededRandom(20250601);
  const target = testTarget({ joinKeys: [{ name: 'user_id', type: 'string' }, { name: 'shard', type: 'int32' }] });
  const base = Date.now() - HOUR;
  const entities = 300;
  const rows: OnlineRow[] = [];
  const expected = new Map<string, OnlineRow>();
  for (let e = 0; e < entities; e++) {
    const entityKey = [`user|${e}`, e % 7];
    // Distinct (event time, created time) pairs per entity, with ties on event time.
    const pairs = new Set<string>();
    const versions = 1 + Math.floor(random() * 6);
    while (pairs.size < versions) pairs.add(`${Math.floor(random() * 3) * 1000}:${Math.floor(random() * 3)}`);
    for (const pair of pairs) {
      const [dt, created] = pair.split(':').map(Number) as [number, number];
      const candidate = row(
        {
          spend: random() < 0.2 ? null : Math.round(random() * 1e6) / 100,
          orders: BigInt(Math.floor(random() * 1000)),
          country: random() < 0.3 ? null : ['FR', 'DE', 'US'][Math.floor(random() * 3)]!,
        },
        base + dt,
        created,
        entityKey,
      );
      // Each row one to three times.
      for (let copies = 1 + Math.floor(random() * 3); copies > 0; copies--) rows.push(candidate);
      const key = encodeEntityKey(entityKey);
      const best = expected.get(key);
      if (!best || candidate.eventTime > best.eventTime || (candidate.eventTime === best.eventTime && candidate.createdTime > best.createdTime)) {
        expected.set(key, candidate);
      }
    }
  }

  const writers = Array.from({ length: 4 }, () => new RedisOnlineStore({ url: STACK_REDIS_URL, keyPrefix: prefix, rowsPerCall: 7, writeChunkSize: 25, writeChunksInFlight: 3 }));
  t.after(() => Promise.all(writers.map((w) => w.close())));
  for (let trial = 1; trial <= 8; trial++) {
    const generation = { ...target, generation: trial };
    const order = shuffled(rows, random);
    const slices = writers.map((_, w) => order.filter((_, i) => i % writers.length === w));
    const results = await Promise.all(writers.map((writer, w) => writer.writeRows(generation, slices[w]!)));
    const written = results.reduce((sum, r) => sum + r.written, 0);
    const skipped = results.reduce((sum, r) => sum + r.skipped, 0);
    assert.equal(written + skipped, rows.length, `trial ${trial}`);
    assert.ok(written >= entities, `trial ${trial}: every entity written at least once`);

    const state = new Map<string, OnlineRow>();
    for await (const batch of store.scanRows(generation)) for (const r of batch) state.set(encodeEntityKey(r.entityKey), r);
    assert.equal(state.size, entities, `trial ${trial}`);
    for (const [key, best] of expected) assert.deepEqual(state.get(key), best, `trial ${trial}, entity ${key}`);
  }
});

test('convergence: many writers racing on one entity keep the greatest row', async (t) => {
  const { prefix } = await openTestStore(t);
  const target = testTarget();
  const base = Date.now() - HOUR;
  const writers = Array.from({ length: 8 }, () => new RedisOnlineStore({ url: STACK_REDIS_URL, keyPrefix: prefix, writeChunkSize: 10 }));
  t.after(() => Promise.all(writers.map((w) => w.close())));
  // 200 rows: (i % 50, i % 8) is distinct for each.
  const rows = Array.from({ length: 200 }, (_, i) => row({ spend: i, orders: BigInt(i) }, base + (i % 50), i % 8));
  const results = await Promise.all(writers.map((w, k) => w.writeRows(target, shuffled(rows, seededRandom(k)))));
  assert.equal(results.reduce((sum, r) => sum + r.written + r.skipped, 0), rows.length * writers.length);
  // Greatest (event time, created time) is (49, 7): i = 199.
  assert.deepEqual(await readOne(writers[0]!, target), row({ spend: 199, orders: 199n, country: null }, base + 49, 7));
});
