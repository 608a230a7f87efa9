import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import type { OnlineRow } from '../../stores/online/online-store.ts';
import { openTestStore, testTarget } from './online-fixtures.ts';

/** A counter of Redis' INFO, e.g. stat(info, 'total_reads_processed'). */
function stat(info: string, name: string): number {
  const match = new RegExp(`(?:^|\\r?\\n)${name}:(?:calls=)?(\\d+)`).exec(info);
  return match ? Number(match[1]) : 0;
}

test('readRows: 3 views x 100 entities in one MGET, missing entities null, a subset of features', async (t) => {
  // A private Redis, so its read and command counters see this store only.
  const redis = await startPrivateRedis();
  t.after(() => redis.dispose());
  const { store } = await openTestStore(t, { url: redis.url });
  const observer = new Redis(redis.url);
  observer.on('error', () => undefined);
  t.after(() => observer.disconnect());

  const now = Date.now();
  const views = ['orders', 'clicks', 'profile'].map((view, v) =>
    testTarget({
      view,
      joinKeys: [{ name: 'user_id', type: 'int64' }],
      features: [
        { name: 'a', type: 'float64' },
        { name: 'b', type: 'string' },
        { name: 'c', type: 'list<int32>' },
      ],
      ttlSeconds: 3600 * (v + 1),
    }),
  );
  const entityKeys = Array.from({ length: 100 }, (_, i) => [BigInt(i)]);
  const stored = (v: number, i: number): OnlineRow => ({
    entityKey: [BigInt(i)],
    values: { a: v * 1000 + i, b: `v${v}e${i}`, c: [i, null, v] },
    eventTime: now - i,
    createdTime: v,
  });
  // Each view holds a different 2/3 of the entities.
  const present = (v: number, i: number): boolean => (i + v) % 3 !== 0;
  for (const [v, target] of views.entries()) {
    await store.markGeneration(target);
    const rows = entityKeys.map((_, i) => stored(v, i)).filter((_, i) => present(v, i));
    assert.equal((await store.writeRows(target, rows)).written, rows.length);
  }

  const before = await observer.info('all');
  const result = await store.readRows([
    { target: views[0]!, entityKeys },
    { target: views[1]!, entityKeys, features: ['c', 'a'] },
    { target: views[2]!, entityKeys, features: ['b'] },
  ]);
  const after = await observer.info('all');

  assert.equal(result.length, 3);
  for (const [v, rows] of result.entries()) {
    assert.equal(rows.length, 100);
    for (const [i, found] of rows.entries()) {
      if (!present(v, i)) {
        assert.equal(found, null, `view ${v} entity ${i}`);
        continue;
      }
      const { values, ...rest } = stored(v, i);
      const expected = v === 0 ? values : v === 1 ? { c: values.c, a: values.a } : { b: values.b };
      assert.deepEqual(found, { ...rest, values: expected }, `view ${v} entity ${i}`);
      if (v === 1) assert.deepEqual(Object.keys(found!.values), ['c', 'a']);
    }
  }
  // Layout 2: the 300 rows of 3 views in one MGET, one round trip (plus the observer's own INFO).
  assert.equal(stat(after, 'cmdstat_mget') - stat(before, 'cmdstat_mget'), 1);
  assert.equal(stat(after, 'cmdstat_hmget') - stat(before, 'cmdstat_hmget'), 0);
  const reads = stat(after, 'total_reads_processed') - stat(before, 'total_reads_processed');
  t.diagnostic(`300 rows: ${reads} socket reads`);
  assert.ok(reads <= 6, `300 rows took ${reads} socket reads: not one round trip`);
});

test('readRows: an empty read makes no round trip; an unknown feature is refused', async (t) => {
  const { store } = await openTestStore(t);
  const target = testTarget();
  assert.deepEqual(await store.readRows([]), []);
  assert.deepEqual(await store.readRows([{ target, entityKeys: [] }]), [[]]);
  await assert.rejects(store.readRows([{ target, entityKeys: [['u1']], features: ['nope'] }]), /has no feature 'nope' \(it has: spend, orders, country\)/);
});

test('generation marker: set, idempotent, records the applied seq forward only, missing after FLUSHALL', async (t) => {
  const redis = await startPrivateRedis();
  t.after(() => redis.dispose());
  const { store, raw } = await openTestStore(t, { url: redis.url });
  const target = testTarget({ generation: 7 });
  assert.equal(await store.hasGenerationMarker(target), false);
  assert.equal(await store.appliedSeq(target), null);
  assert.equal(await store.recordApplied(target, 3), null, 'no marker: nothing is recorded');
  await store.markGeneration(target);
  assert.equal(await store.hasGenerationMarker(target), true);
  assert.equal(await store.hasGenerationMarker({ ...target, generation: 8 }), false);
  assert.equal(await store.appliedSeq(target), 0);

  const key = store.layout.markerKey(target);
  const createdAt = await raw.hget(key, 'createdAt');
  assert.ok(createdAt && !Number.isNaN(Date.parse(createdAt)));
  assert.equal(await raw.pttl(key), -1, 'the marker never expires');
  assert.equal(await store.recordApplied(target, 12), 12);
  assert.equal(await store.recordApplied(target, 9), 12, 'never lowered');
  assert.equal(await store.appliedSeq(target), 12);
  await new Promise((resolve) => setTimeout(resolve, 5));
  await store.markGeneration(target);
  assert.equal(await raw.hget(key, 'createdAt'), createdAt, 'marking again keeps the first marker');
  assert.equal(await store.appliedSeq(target), 12, 'and its applied seq');
  await assert.rejects(store.recordApplied(target, -1), /whole number >= 0/);

  const before = await store.instanceId();
  assert.match(before, /^[0-9a-f]{40}$/);
  assert.equal(await store.instanceId(), before, 'the same process, the same id');
  await raw.flushall();
  assert.equal(await store.hasGenerationMarker(target), false);
  assert.equal(await store.appliedSeq(target), null);

  await redis.stop();
  await redis.start();
  assert.notEqual(await store.instanceId(), before, 'a restarted Redis has a new instance id');
});
