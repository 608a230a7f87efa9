import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFeatureRepo, featureService, specOf } from '../../definitions/index.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { FeatureServer } from '../../serving/feature-server.ts';
import type { FeatureStatus } from '../../serving/feature-status.ts';
import { OnlineFeatureReader } from '../../serving/online-feature-reader.ts';
import { ServingCatalog } from '../../serving/serving-catalog.ts';
import { ServingError } from '../../serving/serving-error.ts';
import type { RegisteredObject } from '../../stores/registry/definition-registry.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { HOUR, driverStats, servingFixture, servingRepo, userMerchant, userProfile, userSpend } from './serving-fixtures.ts';
import { servingConsumer } from './serving-consumer.ts';

/**
 * A feature service's defaults on the online read path: served for NOT_FOUND and OUTSIDE_MAX_AGE
 * values with the true status, the same through the SDK, the HTTP server and the CLI; never for
 * NULL_VALUE, never for a plain feature list, never without a default (fail-closed).
 */

/** fraud_model's features and order, with defaults for three of them (none for merchant_txns). */
const fraudDefaults = featureService({
  name: 'fraud_defaults',
  features: ['user_spend:txn_count', { view: userProfile, features: ['country', 'age'] }, 'user_merchant:merchant_txns', 'user_spend:spend_7d'],
  defaults: { 'user_spend:txn_count': 0n, 'user_profile:country': 'unknown', 'user_spend:spend_7d': -1 },
});
const driverDefaults = featureService({
  name: 'driver_defaults',
  features: [driverStats],
  defaults: { 'driver_stats:photo': new Uint8Array([9, 9]), 'driver_stats:last_seen': new Date(Date.UTC(2020, 0, 1)), 'driver_stats:trips': 2n ** 60n },
});
const repoWith = (...extra: ReturnType<typeof featureService>[]) =>
  buildFeatureRepo('.', [...servingRepo.views, ...servingRepo.services, ...extra].map((definition) => ({ definition })));

const fixture = await servingFixture('service_defaults');
await fixture.registry.apply(repoWith(fraudDefaults, driverDefaults));
const now = Date.now();
await fixture.write(userProfile, [
  { entityKey: ['u1'], values: { age: 31, country: 'FR' }, eventTime: now - HOUR, createdTime: 0 },
  // Fresh, country null: NULL_VALUE, which a default does not replace.
  { entityKey: ['u2'], values: { age: 40, country: null }, eventTime: now - 2 * HOUR, createdTime: 0 },
]);
await fixture.write(userSpend, [
  { entityKey: ['u1'], values: { spend_7d: 12.5, txn_count: 7n }, eventTime: now - 10 * 60_000, createdTime: 0 },
  // 1.5h old with a 1h TTL: OUTSIDE_MAX_AGE.
  { entityKey: ['u2'], values: { spend_7d: 99, txn_count: 3n }, eventTime: now - 1.5 * HOUR, createdTime: 0 },
]);
await fixture.write(userMerchant, [{ entityKey: ['u1', 'm1'], values: { merchant_txns: 4n }, eventTime: now - HOUR, createdTime: 0 }]);
await fixture.write(driverStats, [{ entityKey: [1001n], values: { conv_rate: 0.5, trips: 12n, last_seen: now - 5000, photo: new Uint8Array([1]) }, eventTime: now - HOUR, createdTime: 0 }]);

const store = await FeatureStore.open({ config: fixture.config });
test.after(() => store.close());
const entityRows = [
  { user_id: 'u1', merchant_id: 'm1' },
  { user_id: 'u2', merchant_id: 'm1' },
  { user_id: 'nobody', merchant_id: 'm9' },
];

test('a missing entity and a stale row get the defaults, with their true status; a stored null and a feature without a default stay null', async () => {
  const result = await store.getOnlineFeatures({ featureService: 'fraud_defaults', entityRows });
  assert.deepEqual(result.featureNames, ['txn_count', 'country', 'age', 'merchant_txns', 'spend_7d']);
  const [u1, u2, nobody] = result.rows;
  assert.deepEqual(u1!.values, [7n, 'FR', 31, 4n, 12.5], 'present values are never replaced');
  assert.deepEqual(u1!.statuses, ['PRESENT', 'PRESENT', 'PRESENT', 'PRESENT', 'PRESENT']);

  // u2: spend is stale (defaults 0n and -1), country is a stored null (stays null), no merchant row (no default: null).
  assert.deepEqual(u2!.values, [0n, null, 40, null, -1]);
  assert.deepEqual(u2!.statuses, ['OUTSIDE_MAX_AGE', 'NULL_VALUE', 'PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE']);
  assert.deepEqual(u2!.eventTimestamps, [now - 1.5 * HOUR, now - 2 * HOUR, now - 2 * HOUR, null, now - 1.5 * HOUR], 'the stale row keeps its event time');

  assert.deepEqual(nobody!.values, [0n, 'unknown', null, null, -1]);
  assert.deepEqual(nobody!.statuses, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
  assert.deepEqual(nobody!.eventTimestamps, [null, null, null, null, null]);
});

test('fail-closed: a service without defaults, and the same features asked as a list, serve null', async () => {
  for (const request of [{ featureService: 'fraud_model' }, { features: fraudDefaults.items.flatMap((i) => i.features!.map((f) => `${i.view}:${f}`)) }]) {
    const result = await store.getOnlineFeatures({ ...request, entityRows });
    assert.deepEqual(result.featureRefs, ['user_spend:txn_count', 'user_profile:country', 'user_profile:age', 'user_merchant:merchant_txns', 'user_spend:spend_7d']);
    assert.deepEqual(result.rows[1]!.values, [null, null, 40, null, null], JSON.stringify(request));
    assert.deepEqual(result.rows[1]!.statuses, ['OUTSIDE_MAX_AGE', 'NULL_VALUE', 'PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE']);
    assert.deepEqual(result.rows[2]!.values, [null, null, null, null, null], JSON.stringify(request));
  }
});

test('bytes, timestamp and int64 defaults; a served bytes default is the caller’s own copy', async () => {
  const read = () => store.getOnlineFeatures({ featureService: 'driver_defaults', entityRows: [{ driver_id: 1001 }, { driver_id: 7 }, { driver_id: 8 }] });
  const result = await read();
  assert.deepEqual(result.featureNames, ['conv_rate', 'trips', 'last_seen', 'photo']);
  assert.deepEqual(result.rows[0]!.values, [0.5, 12n, now - 5000, new Uint8Array([1])]);
  assert.deepEqual(result.rows[1]!.values, [null, 2n ** 60n, Date.UTC(2020, 0, 1), new Uint8Array([9, 9])]);
  assert.deepEqual(result.rows[1]!.statuses, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
  const photo = result.rows[1]!.values[3] as Uint8Array;
  assert.notEqual(photo, result.rows[2]!.values[3], 'each row its own bytes');
  photo[0] = 0;
  assert.deepEqual((await read()).rows[1]!.values[3], new Uint8Array([9, 9]), 'mutating a served default changes no later response');
});

test('the HTTP server serves the defaults in Feast JSON with the true statuses, and counts values by their true status', async () => {
  const consumer = await servingConsumer(fixture);
  const server = new FeatureServer({ registry: fixture.registry, online: fixture.online, access: consumer.access });
  const url = await server.listen({ port: 0 });
  try {
    const response = await fetch(`${url}/get-online-features`, {
      method: 'POST',
      headers: consumer.headers,
      body: JSON.stringify({ feature_service: 'fraud_defaults', entities: { user_id: ['u1', 'u2', 'nobody'], merchant_id: ['m1', 'm1', 'm9'] } }),
    });
    assert.equal(response.status, 200);
    const json = (await response.json()) as { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[] }[] };
    assert.deepEqual(json.metadata.feature_names, ['user_id', 'merchant_id', 'txn_count', 'country', 'age', 'merchant_txns', 'spend_7d']);
    assert.deepEqual(json.results[2], { ...json.results[2], values: [7, 0, 0], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'] });
    assert.deepEqual(json.results[3]!.values, ['FR', null, 'unknown']);
    assert.deepEqual(json.results[3]!.statuses, ['PRESENT', 'NULL_VALUE', 'NOT_FOUND']);
    assert.deepEqual(json.results[5]!.values, [4, null, null]);
    assert.deepEqual(json.results[6]!.values, [12.5, -1, -1]);
    assert.deepEqual(json.results[6]!.statuses, ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const count = (status: FeatureStatus) => Number(new RegExp(`^granary_serving_feature_values_total\\{status="${status}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    // 15 values: u1 5 PRESENT, u2 1+1 PRESENT (age), 1 NULL_VALUE, 1 NOT_FOUND, 2 OUTSIDE_MAX_AGE; nobody 5 NOT_FOUND.
    assert.deepEqual(
      { PRESENT: count('PRESENT'), NULL_VALUE: count('NULL_VALUE'), NOT_FOUND: count('NOT_FOUND'), OUTSIDE_MAX_AGE: count('OUTSIDE_MAX_AGE') },
      { PRESENT: 6, NULL_VALUE: 1, NOT_FOUND: 6, OUTSIDE_MAX_AGE: 2 },
    );
  } finally {
    await server.close();
  }
});

test('the hot-key cache keeps rows, not served values: a service with defaults and one without share it correctly', async () => {
  const statuses: Record<FeatureStatus, number>[] = [];
  const reader = new OnlineFeatureReader({
    registry: fixture.registry,
    online: fixture.counting,
    hotKeyCache: { ttlMs: 60_000 },
    onStatuses: (counts) => statuses.push({ ...counts }),
  });
  try {
    const withDefaults = await reader.getOnlineFeatures({ featureService: 'fraud_defaults', entityRows });
    const calls = fixture.counting.readRowsCalls;
    const without = await reader.getOnlineFeatures({ featureService: 'fraud_model', entityRows });
    const again = await reader.getOnlineFeatures({ featureService: 'fraud_defaults', entityRows });
    assert.equal(fixture.counting.readRowsCalls, calls, 'the later reads came from the cache');
    assert.deepEqual(withDefaults.rows[2]!.values, [0n, 'unknown', null, null, -1]);
    assert.deepEqual(without.rows[2]!.values, [null, null, null, null, null], 'a cached miss is still a miss for a service without defaults');
    assert.deepEqual(again.rows.map((r) => r.values), withDefaults.rows.map((r) => r.values));
    assert.deepEqual(statuses[0], statuses[1], 'the status counts are the same with and without defaults');
    assert.deepEqual(statuses[0], { PRESENT: 6, NULL_VALUE: 1, NOT_FOUND: 6, OUTSIDE_MAX_AGE: 2 });
  } finally {
    reader.close();
  }
});

test('get-online-features prints the default beside its true status', async () => {
  const result = await granary(['get-online-features', '--service', 'fraud_defaults', '--entities', '{"user_id": ["u2", "nobody"], "merchant_id": ["m1", "m9"]}'], {
    project: fixture.config.project,
    env: fixture.env,
  });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
  assert.deepEqual(lines[0], ['user_id', 'merchant_id', 'txn_count', 'country', 'age', 'merchant_txns', 'spend_7d']);
  assert.deepEqual(lines[1], ['u2', 'm1', '0 (OUTSIDE_MAX_AGE)', 'null (NULL_VALUE)', '40', 'null (NOT_FOUND)', '-1 (OUTSIDE_MAX_AGE)']);
  assert.deepEqual(lines[2], ['nobody', 'm9', '0 (NOT_FOUND)', 'unknown (NOT_FOUND)', 'null (NOT_FOUND)', 'null (NOT_FOUND)', '-1 (NOT_FOUND)']);
});

test('defaults applied while running are served without a restart', async () => {
  const reader = new OnlineFeatureReader({ registry: fixture.registry, online: fixture.online, definitionsRefreshMs: 100 });
  try {
    const read = async () => (await reader.getOnlineFeatures({ featureService: 'fraud_defaults', entityRows: [{ user_id: 'nobody', merchant_id: 'm9' }] })).rows[0]!.values;
    assert.deepEqual(await read(), [0n, 'unknown', null, null, -1]);
    const changed = featureService({
      name: 'fraud_defaults',
      features: fraudDefaults.items.map((i) => ({ view: i.view, features: [...i.features!] })),
      defaults: { 'user_spend:txn_count': -5n, 'user_merchant:merchant_txns': 0n },
    });
    const plan = await fixture.registry.apply(repoWith(changed, driverDefaults));
    assert.equal(plan.breaking, false);
    assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`), ['update featureService fraud_defaults']);
    const deadline = Date.now() + 5000;
    let values = await read();
    while (values[0] !== -5n && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      values = await read();
    }
    assert.deepEqual(values, [-5n, null, null, 0n, null], 'the new defaults, and none where they were removed');
  } finally {
    reader.close();
  }
});

test('a registered default that does not fit its feature refuses the service, naming it, instead of serving a wrong value', () => {
  const objects = [...servingRepo.views, fraudDefaults].map(
    (definition): RegisteredObject => ({
      kind: definition.kind,
      name: definition.name,
      version: definition.kind === 'featureView' ? definition.version : 1,
      schemaVersion: 1,
      spec: definition.kind === 'featureView' ? specOf(definition) : { ...specOf(definition), defaults: { 'user_spend:txn_count': 'zero' } },
      contentHash: '',
      status: 'active',
      appliedAt: new Date(),
    }),
  );
  assert.throws(
    () => new ServingCatalog(objects).plan({ featureService: 'fraud_defaults' }),
    (error: unknown) =>
      error instanceof ServingError &&
      error.code === 'INVALID_FEATURE_SERVICE' &&
      error.statusCode === 500 &&
      /feature service 'fraud_defaults': the registered default of 'user_spend:txn_count' \("zero"\) does not fit its type int64/.test(error.message),
  );
});
