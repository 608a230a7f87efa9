import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeEntityKey } from '../../stores/online/key-layout.ts';
import type { OnlineRow, OnlineTarget } from '../../stores/online/online-store.ts';
import type { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { openTestStore, testTarget } from './online-fixtures.ts';

const composite = (overrides: Partial<OnlineTarget> = {}): OnlineTarget =>
  testTarget({
    joinKeys: [
      { name: 'merchant', type: 'string' },
      { name: 'user_id', type: 'int64' },
    ],
    features: [
      { name: 'amount', type: 'float64' },
      { name: 'tags', type: 'list<string>' },
      { name: 'flag', type: 'bool' },
    ],
    ...overrides,
  });

const MERCHANTS = ['plain', 'with|pipe', '100%', 'a:b', '*glob?[x]', ''];

function rowsOf(count: number, eventTime: number): OnlineRow[] {
  return Array.from({ length: count }, (_, i) => ({
    entityKey: [MERCHANTS[i % MERCHANTS.length]!, BigInt(i) * 1_000_003n - 2n ** 62n],
    values: { amount: i / 7, tags: i % 5 === 0 ? null : [`t${i % 3}`, null], flag: i % 2 === 0 },
    eventTime: eventTime - (i % 1000),
    createdTime: i % 3,
  }));
}

async function scanAll(store: RedisOnlineStore, target: OnlineTarget, batchSize?: number): Promise<{ rows: OnlineRow[]; batches: number[] }> {
  const rows: OnlineRow[] = [];
  const batches: number[] = [];
  for await (const batch of store.scanRows(target, batchSize)) {
    batches.push(batch.length);
    rows.push(...batch);
  }
  return { rows, batches };
}

test('scanRows returns exactly what was written (100k rows), composite entity keys decoded', async (t) => {
  const { store } = await openTestStore(t);
  const target = composite();
  const rows = rowsOf(100_000, Date.now());
  let started = performance.now();
  assert.deepEqual(await store.writeRows(target, rows), { written: rows.length, skipped: 0, expired: 0 });
  t.diagnostic(`writeRows: ${Math.round(performance.now() - started)} ms`);
  // Another generation and another view must not show up.
  await store.writeRows(composite({ generation: 2 }), rowsOf(10, Date.now()));
  await store.writeRows(composite({ view: 'user_stats_2' }), rowsOf(10, Date.now()));
  await store.markGeneration(target);

  started = performance.now();
  const { rows: scanned, batches } = await scanAll(store, target, 5000);
  t.diagnostic(`scanRows: ${Math.round(performance.now() - started)} ms`);
  started = performance.now();
  assert.ok(batches.every((n) => n > 0 && n <= 5000), `batch sizes ${batches.slice(0, 5)}...`);
  assert.equal(scanned.length, rows.length);
  const byKey = new Map(scanned.map((r) => [encodeEntityKey(r.entityKey), r]));
  assert.equal(byKey.size, rows.length, 'each entity once');
  for (const expected of rows) {
    const found = byKey.get(encodeEntityKey(expected.entityKey));
    assert.deepEqual(found, expected);
  }
  assert.equal(typeof scanned[0]!.entityKey[1], 'bigint');
  t.diagnostic(`compare: ${Math.round(performance.now() - started)} ms`);
});

test('dropGeneration deletes one generation, marker included, and leaves other generations, versions and views intact', async (t) => {
  const { store, raw, prefix } = await openTestStore(t);
  const now = Date.now();
  const dropped = composite({ generation: 1 });
  const others = [
    composite({ generation: 2 }),
    composite({ generation: 10 }),
    composite({ version: 2 }),
    composite({ view: 'user_stats_2' }),
    composite({ project: 'other_shop' }),
  ];
  for (const target of [dropped, ...others]) {
    await store.writeRows(target, rowsOf(2500, now));
    await store.markGeneration(target);
  }
  assert.equal(await store.dropGeneration(dropped), 2501);
  assert.equal(await store.hasGenerationMarker(dropped), false);
  assert.equal((await scanAll(store, dropped)).rows.length, 0);
  assert.equal((await raw.keys(`${prefix}:*:g1:*`)).filter((k) => k.includes(':user_stats:v1:') && k.includes(':shop:')).length, 0);
  for (const target of others) {
    assert.equal(await store.hasGenerationMarker(target), true);
    assert.equal((await scanAll(store, target)).rows.length, 2500);
  }
  assert.equal(await store.dropGeneration(dropped), 0, 'dropping again is a no-op');
});

test('dropGeneration without a marker drops the keys of both layouts in one pass, and nothing of a generation whose project name ends with this one\'s', async (t) => {
  const { store, raw, prefix } = await openTestStore(t);
  const { store: old } = await openTestStore(t, { keyPrefix: prefix, newGenerationLayout: 1 });
  const now = Date.now();
  const lost = composite({ generation: 3 });
  const lookalikes = [composite({ generation: 3, project: 'other_shop' }), composite({ generation: 3, view: 'my_user_stats' }), composite({ generation: 30 })];
  // Layout-2 rows and layout-1 rows under the same generation, its marker gone (Redis lost it).
  await store.markGeneration(lost);
  await store.writeRows(lost, rowsOf(300, now));
  await raw.del(store.layout.markerKey(lost));
  await old.writeRows(lost, rowsOf(200, now)); // no marker: written as layout 1
  for (const target of lookalikes) {
    await store.markGeneration(target);
    await store.writeRows(target, rowsOf(50, now));
  }
  const before = (await raw.keys(`${prefix}:*`)).length;
  assert.equal(await store.dropGeneration(lost), 500);
  assert.equal((await raw.keys(`${prefix}:*`)).length, before - 500, 'the rows of both layouts, nothing else');
  for (const target of lookalikes) assert.equal(await store.countRowKeys(target), 50);
});
