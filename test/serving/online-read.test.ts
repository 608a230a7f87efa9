import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFeatureRepo, featureService, featureView } from '../../definitions/index.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { OnlineFeatureReader } from '../../serving/online-feature-reader.ts';
import { ServingError } from '../../serving/serving-error.ts';
import { HOUR, driverStats, servingFixture, servingRepo, user, userMerchant, userProfile, userSpend } from './serving-fixtures.ts';

const fixture = await servingFixture('online_read');
const now = Date.now();
await fixture.write(userProfile, [
  { entityKey: ['u1'], values: { age: 31, country: 'FR', score: 0.25, tags: ['a', null, 'b'] }, eventTime: now - HOUR, createdTime: 0 },
  // Exists, country null.
  { entityKey: ['u2'], values: { age: 40, country: null, score: -1.5, tags: [] }, eventTime: now - 2 * HOUR, createdTime: 0 },
]);
await fixture.write(userSpend, [
  { entityKey: ['u1'], values: { spend_7d: 12.5, txn_count: 7n }, eventTime: now - 10 * 60_000, createdTime: 0 },
  // Older than the view's 1h TTL (Redis keeps it for TTL + grace = 2h): stale.
  { entityKey: ['u2'], values: { spend_7d: 99, txn_count: 3n }, eventTime: now - 1.5 * HOUR, createdTime: 0 },
]);
await fixture.write(userMerchant, [{ entityKey: ['u1', 'm1'], values: { merchant_txns: 4n }, eventTime: now - HOUR, createdTime: 0 }]);
await fixture.write(driverStats, [
  { entityKey: [1001n], values: { conv_rate: 0.5, trips: 12n, last_seen: now - 5000, photo: new Uint8Array([1, 2, 255]) }, eventTime: now - HOUR, createdTime: 0 },
]);

const store = await FeatureStore.open({ config: fixture.config });
test.after(() => store.close());

test('a feature service: values in its order, a status per value, the event timestamp of each view row', async () => {
  const result = await store.getOnlineFeatures({
    featureService: 'fraud_model',
    entityRows: [
      { user_id: 'u1', merchant_id: 'm1' },
      { user_id: 'u2', merchant_id: 'm1' },
      { user_id: 'nobody', merchant_id: 'm9' },
    ],
  });
  assert.deepEqual(result.featureNames, ['txn_count', 'country', 'age', 'merchant_txns', 'spend_7d']);
  assert.deepEqual(result.featureRefs, ['user_spend:txn_count', 'user_profile:country', 'user_profile:age', 'user_merchant:merchant_txns', 'user_spend:spend_7d']);
  assert.deepEqual(result.joinKeys, ['user_id', 'merchant_id']);
  const [u1, u2, nobody] = result.rows;

  assert.deepEqual(u1!.entity, { user_id: 'u1', merchant_id: 'm1' });
  assert.deepEqual(u1!.values, [7n, 'FR', 31, 4n, 12.5]);
  assert.deepEqual(u1!.statuses, ['PRESENT', 'PRESENT', 'PRESENT', 'PRESENT', 'PRESENT']);
  assert.deepEqual(u1!.eventTimestamps, [now - 10 * 60_000, now - HOUR, now - HOUR, now - HOUR, now - 10 * 60_000]);

  // u2: spend is 1.5h old with a 1h TTL (stale: null), country is null in a fresh row, no user_merchant row.
  assert.deepEqual(u2!.values, [null, null, 40, null, null]);
  assert.deepEqual(u2!.statuses, ['OUTSIDE_MAX_AGE', 'NULL_VALUE', 'PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE']);
  assert.deepEqual(u2!.eventTimestamps, [now - 1.5 * HOUR, now - 2 * HOUR, now - 2 * HOUR, null, now - 1.5 * HOUR]);

  assert.deepEqual(nobody!.values, [null, null, null, null, null]);
  assert.deepEqual(nobody!.statuses, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
});

test('features by reference, full feature names, every value type decoded', async () => {
  const result = await store.getOnlineFeatures({
    features: ['driver_stats:photo', 'driver_stats:last_seen', 'driver_stats:trips', 'driver_stats:conv_rate', 'user_profile:tags'],
    entityRows: [{ driver_id: 1001, user_id: 'u1' }, { driver_id: 2n ** 62n, user_id: 'u1' }],
    fullFeatureNames: true,
  });
  assert.deepEqual(result.featureNames, ['driver_stats__photo', 'driver_stats__last_seen', 'driver_stats__trips', 'driver_stats__conv_rate', 'user_profile__tags']);
  assert.deepEqual(result.rows[0]!.values, [new Uint8Array([1, 2, 255]), now - 5000, 12n, 0.5, ['a', null, 'b']]);
  assert.deepEqual(result.rows[1]!.statuses, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'PRESENT']);
  assert.deepEqual(result.rows[1]!.entity, { driver_id: 2n ** 62n, user_id: 'u1' });
});

test('a key of the wrong type is an error naming the join key and the row, not a miss', async () => {
  await assert.rejects(
    store.getOnlineFeatures({ features: ['driver_stats:trips'], entityRows: [{ driver_id: 1001 }, { driver_id: '1OO1' }] }),
    (error: unknown) =>
      error instanceof ServingError && error.code === 'INVALID_ENTITY_KEY' && /entity row 1: join key 'driver_id' is int64, got string "1OO1" \(not a decimal integer\)/.test(error.message),
  );
  await assert.rejects(store.getOnlineFeatures({ features: ['user_profile:age'], entityRows: [{ user_id: 7 }] }), /entity row 0: join key 'user_id' is string, got number 7/);
  await assert.rejects(store.getOnlineFeatures({ features: ['driver_stats:trips'], entityRows: [{ driver_id: 1.5 }] }), /join key 'driver_id' is int64, got number 1.5/);
  await assert.rejects(store.getOnlineFeatures({ features: ['driver_stats:trips'], entityRows: [{ driver_id: 2 ** 60 }] }), /beyond 2\^53.*send the key as a decimal string/);
  await assert.rejects(
    store.getOnlineFeatures({ featureService: 'fraud_model', entityRows: [{ user_id: 'u1' }] }),
    (error: unknown) => error instanceof ServingError && error.code === 'MISSING_JOIN_KEY' && /entity row 0: missing join key 'merchant_id' \(needed by feature view 'user_merchant'/.test(error.message),
  );
});

test('unknown names and ambiguous short names are refused, naming what is known', async () => {
  await assert.rejects(store.getOnlineFeatures({ featureService: 'nope', entityRows: [] }), /unknown feature service 'nope' \(registered: driver_model, fraud_model\)/);
  await assert.rejects(store.getOnlineFeatures({ features: ['nope:x'], entityRows: [] }), /features\[0\] 'nope:x': unknown feature view 'nope'/);
  await assert.rejects(store.getOnlineFeatures({ features: ['user_profile:nope'], entityRows: [] }), /feature view 'user_profile' version 1 has no feature 'nope' \(it has: age, country, score, tags\)/);
  await assert.rejects(store.getOnlineFeatures({ features: ['user_profile@3:age'], entityRows: [] }), /unknown feature view 'user_profile' version 3 \(registered versions: 1\)/);
  await assert.rejects(store.getOnlineFeatures({ features: ['user_profile'], entityRows: [] }), /not of the form 'view:feature'/);
  await assert.rejects(store.getOnlineFeatures({ features: ['user_spend:txn_count', 'user_merchant:merchant_txns', 'user_spend:txn_count'], entityRows: [] }), /'user_spend:txn_count' is requested twice/);
  await assert.rejects(store.getOnlineFeatures({ features: ['user_profile:age'], featureService: 'fraud_model', entityRows: [] }), /either 'features'.*or 'featureService'/);
});

test('several views and entities in one call: one online store round trip', async () => {
  const reader = new OnlineFeatureReader({ registry: fixture.registry, online: fixture.counting });
  try {
    const rows = Array.from({ length: 50 }, (_, i) => ({ user_id: i % 2 ? 'u1' : `x${i}`, merchant_id: 'm1', driver_id: i }));
    const result = await reader.getOnlineFeatures({
      features: ['user_profile:age', 'user_spend:txn_count', 'user_merchant:merchant_txns', 'driver_stats:trips'],
      entityRows: rows,
    });
    assert.equal(fixture.counting.readRowsCalls, 1);
    assert.equal(fixture.counting.readsSeen[0]!.length, 4, 'one read per view, in the same call');
    assert.equal(result.rows.length, 50);
    assert.deepEqual(result.rows[1]!.values, [31, 7n, 4n, null]);
    assert.deepEqual(result.rows[0]!.statuses, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
  } finally {
    reader.close();
  }
});

test('a rebuild cut-over is followed without a restart', async () => {
  const reader = new OnlineFeatureReader({ registry: fixture.registry, online: fixture.online, generationRefreshMs: 100 });
  try {
    const read = () => reader.getOnlineFeatures({ features: ['user_profile:country'], entityRows: [{ user_id: 'u1' }] });
    assert.deepEqual((await read()).rows[0]!.values, ['FR']);
    const building = await fixture.registry.buildingGeneration('user_profile', 1);
    await fixture.write(userProfile, [{ entityKey: ['u1'], values: { country: 'DE' }, eventTime: now - HOUR, createdTime: 0 }], building.generation);
    assert.deepEqual((await read()).rows[0]!.values, ['FR'], 'a building generation is not read');
    await fixture.registry.activateGeneration('user_profile', 1, building.generation);
    const deadline = Date.now() + 5000;
    let values = (await read()).rows[0]!.values;
    while (values[0] !== 'DE' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      values = (await read()).rows[0]!.values;
    }
    assert.deepEqual(values, ['DE']);
    assert.equal(reader.generations.peek('user_profile', 1), building.generation);
  } finally {
    reader.close();
  }
});

test('definitions applied while running are served without a restart', async () => {
  const reader = new OnlineFeatureReader({ registry: fixture.registry, online: fixture.online, definitionsRefreshMs: 200 });
  try {
    await assert.rejects(reader.getOnlineFeatures({ featureService: 'late_model', entityRows: [] }), /unknown feature service 'late_model'/);
    // A new nullable feature (additive) and a new service.
    const profile2 = featureView({
      name: 'user_profile',
      entities: [user],
      source: userProfile.source,
      schema: [...userProfile.features.map((f) => ({ name: f.name, type: f.type })), { name: 'segment', type: 'string' }],
      ttl: '1d',
    });
    const late = featureService({ name: 'late_model', features: ['user_profile:segment', 'user_profile:country'] });
    const others = servingRepo.views.filter((v) => v.name !== 'user_profile').map((definition) => ({ definition }));
    await fixture.registry.apply(
      buildFeatureRepo('.', [...others, { definition: profile2 }, ...servingRepo.services.map((definition) => ({ definition })), { definition: late }]),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await reader.getOnlineFeatures({ featureService: 'late_model', entityRows: [{ user_id: 'u1' }] });
    assert.deepEqual(result.featureNames, ['segment', 'country']);
    // (u1's row is the one the cut-over test wrote to the new generation.)
    assert.deepEqual(result.rows[0]!.values, [null, 'DE']);
    assert.deepEqual(result.rows[0]!.statuses, ['NULL_VALUE', 'PRESENT']);
  } finally {
    reader.close();
  }
});
