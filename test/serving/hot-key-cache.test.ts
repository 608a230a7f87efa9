import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnlineFeatureReader } from '../../serving/online-feature-reader.ts';
import { HOUR, servingFixture, userSpend } from './serving-fixtures.ts';

const fixture = await servingFixture('hot_keys');
const now = Date.now();
const row = (txn: bigint) => ({ entityKey: ['u1'], values: { spend_7d: 1, txn_count: txn }, eventTime: now - HOUR / 2 + Number(txn), createdTime: 0 });

test('off by default: every read goes to Redis', async () => {
  await fixture.write(userSpend, [row(1n)]);
  const reader = new OnlineFeatureReader({ registry: fixture.registry, online: fixture.counting });
  try {
    const before = fixture.counting.readRowsCalls;
    for (let i = 0; i < 3; i++) await reader.getOnlineFeatures({ features: ['user_spend:txn_count'], entityRows: [{ user_id: 'u1' }] });
    assert.equal(fixture.counting.readRowsCalls - before, 3);
    assert.equal(reader.hotKeys, undefined);
  } finally {
    reader.close();
  }
});

test('opt-in: hot entities are read from Redis once per TTL; misses only are read; a cut-over invalidates', async () => {
  const reader = new OnlineFeatureReader({
    registry: fixture.registry,
    online: fixture.counting,
    hotKeyCache: { ttlMs: 400 },
    generationRefreshMs: 50,
  });
  try {
    const read = async (users: string[]) =>
      (await reader.getOnlineFeatures({ features: ['user_spend:txn_count'], entityRows: users.map((user_id) => ({ user_id })) })).rows.map((r) => r.values[0]);
    const before = fixture.counting.readRowsCalls;
    assert.deepEqual(await read(['u1']), [1n]);
    await fixture.write(userSpend, [row(2n)]);
    assert.deepEqual(await read(['u1']), [1n], 'within the TTL the cached row serves');
    assert.equal(fixture.counting.readRowsCalls - before, 1);

    // A request with a cached and an uncached entity reads only the latter.
    assert.deepEqual(await read(['u1', 'u9']), [1n, null]);
    assert.equal(fixture.counting.readRowsCalls - before, 2);
    assert.deepEqual(fixture.counting.readsSeen.at(-1)![0]!.entityKeys, [['u9']]);

    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.deepEqual(await read(['u1']), [2n], 'after the TTL Redis is read again');

    // A rebuild's cut-over: the new generation is read at once, the cache notwithstanding.
    const building = await fixture.registry.buildingGeneration('user_spend', 1);
    await fixture.write(userSpend, [row(3n)], building.generation);
    assert.deepEqual(await read(['u1']), [2n]);
    await fixture.registry.activateGeneration('user_spend', 1, building.generation);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await read(['u1']), [3n]);
  } finally {
    reader.close();
  }
});
