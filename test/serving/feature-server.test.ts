import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FeatureServer } from '../../serving/feature-server.ts';
import { HOUR, driverStats, servingFixture, userMerchant, userProfile, userSpend } from './serving-fixtures.ts';
import { servingConsumer } from './serving-consumer.ts';

const fixture = await servingFixture('feature_server');
const now = Date.now();
const at = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
await fixture.write(userProfile, [{ entityKey: ['u1'], values: { age: 31, country: 'FR', score: Number.NaN, tags: ['a'] }, eventTime: now - HOUR, createdTime: 0 }]);
await fixture.write(userSpend, [
  { entityKey: ['u1'], values: { spend_7d: 71.52, txn_count: 2n ** 60n }, eventTime: now - 60_000, createdTime: 0 },
  { entityKey: ['u2'], values: { spend_7d: 1, txn_count: 1n }, eventTime: now - 1.5 * HOUR, createdTime: 0 },
]);
await fixture.write(userMerchant, [{ entityKey: ['u1', 'm1'], values: { merchant_txns: 4n }, eventTime: now - HOUR, createdTime: 0 }]);
await fixture.write(driverStats, [
  { entityKey: [1001n], values: { conv_rate: 0.5, trips: 12n, last_seen: Date.UTC(2025, 0, 1, 10), photo: new Uint8Array([1, 2, 255]) }, eventTime: now - HOUR, createdTime: 0 },
]);

const consumer = await servingConsumer(fixture);
const server = new FeatureServer({ registry: fixture.registry, online: fixture.online, access: consumer.access, maxEntities: 100, bodyLimitBytes: 64 * 1024 });
const url = await server.listen({ port: 0 });
test.after(() => server.close());

/** The decoded body: a Feast response or an error, loosely typed for the assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function post(body: unknown, raw = false): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${url}/get-online-features`, {
    method: 'POST',
    headers: consumer.headers,
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

test("Feast's request and response shapes: join keys first, results aligned with feature_names", async () => {
  const { status, json } = await post({ feature_service: 'fraud_model', entities: { user_id: ['u1', 'u2'], merchant_id: ['m1', 'm2'] } });
  assert.equal(status, 200);
  assert.deepEqual(json.metadata.feature_names, ['user_id', 'merchant_id', 'txn_count', 'country', 'age', 'merchant_txns', 'spend_7d']);
  assert.equal(json.results.length, 7);
  assert.deepEqual(json.results[0], { values: ['u1', 'u2'], statuses: ['PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] });
  assert.deepEqual(json.results[1].values, ['m1', 'm2']);
  // int64 beyond 2^53 is a decimal string; a stale value is null; a missing row has the epoch.
  assert.deepEqual(json.results[2], {
    values: [String(2n ** 60n), null],
    statuses: ['PRESENT', 'OUTSIDE_MAX_AGE'],
    event_timestamps: [at(now - 60_000), at(now - 1.5 * HOUR)],
  });
  assert.deepEqual(json.results[3], { values: ['FR', null], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: [at(now - HOUR), '1970-01-01T00:00:00Z'] });
  assert.deepEqual(json.results[5].values, [4, null]);
  // float32 as protobuf's JSON writes it: the shortest decimal of the float32, not its float64 widening.
  assert.deepEqual(json.results[6].values, [71.52, null]);
});

test('features by reference with full feature names; every value type as JSON', async () => {
  const { status, json } = await post({
    features: ['driver_stats:conv_rate', 'driver_stats:trips', 'driver_stats:last_seen', 'driver_stats:photo', 'user_profile:score', 'user_profile:tags'],
    entities: { driver_id: [1001, 7], user_id: ['u1', 'u1'] },
    full_feature_names: true,
  });
  assert.equal(status, 200);
  assert.deepEqual(json.metadata.feature_names, [
    'driver_id', 'user_id', 'driver_stats__conv_rate', 'driver_stats__trips', 'driver_stats__last_seen', 'driver_stats__photo', 'user_profile__score', 'user_profile__tags',
  ]);
  assert.deepEqual(
    json.results.map((r: { values: unknown[] }) => r.values[0]),
    [1001, 'u1', 0.5, 12, '2025-01-01T10:00:00Z', Buffer.from([1, 2, 255]).toString('base64'), 'NaN', ['a']],
  );
  assert.deepEqual(json.results[3].statuses, ['PRESENT', 'NOT_FOUND']);
});

test('bad input is a 4xx JSON error saying what is wrong; nothing answers 500', async () => {
  const cases: [unknown, boolean, number, string, RegExp][] = [
    ['{"features": [', true, 400, 'INVALID_JSON', /not valid JSON/],
    ['', true, 400, 'INVALID_JSON', /empty/],
    [[1, 2], false, 400, 'INVALID_REQUEST', /must be a JSON object/],
    [{ entities: { user_id: ['u1'] } }, false, 400, 'INVALID_REQUEST', /either 'features'.*or 'feature_service'/],
    [{ features: ['user_profile:age'] }, false, 400, 'INVALID_REQUEST', /'entities' is missing/],
    [{ features: ['user_profile:nope'], entities: { user_id: ['u1'] } }, false, 404, 'UNKNOWN_FEATURE', /has no feature 'nope'/],
    [{ features: ['nope:age'], entities: { user_id: ['u1'] } }, false, 404, 'UNKNOWN_FEATURE_VIEW', /unknown feature view 'nope'/],
    [{ feature_service: 'nope', entities: { user_id: ['u1'] } }, false, 404, 'UNKNOWN_FEATURE_SERVICE', /unknown feature service 'nope'/],
    [{ features: ['driver_stats:trips'], entities: { driver_id: [1, 'two'] } }, false, 400, 'INVALID_ENTITY_KEY', /entity row 1: join key 'driver_id' is int64, got string "two" \(not a decimal integer\)/],
    [{ features: ['driver_stats:trips'], entities: { driver_id: [null] } }, false, 400, 'INVALID_ENTITY_KEY', /entity row 0: join key 'driver_id' is int64, got null/],
    [{ feature_service: 'fraud_model', entities: { user_id: ['u1'] } }, false, 400, 'MISSING_JOIN_KEY', /missing join key 'merchant_id'/],
    [{ feature_service: 'fraud_model', entities: { user_id: ['u1'], merchant_id: [] } }, false, 400, 'INVALID_REQUEST', /entities.merchant_id has 0 value\(s\) but entities.user_id has 1/],
    [{ features: ['user_profile:age'], entities: { user_id: 'u1' } }, false, 400, 'INVALID_REQUEST', /must be a list of values/],
    [{ features: ['user_profile:age'], entities: { user_id: Array.from({ length: 101 }, (_, i) => `u${i}`) } }, false, 413, 'TOO_MANY_ENTITIES', /101 entity rows.*limit is 100/],
    [{ features: ['user_profile:age'], entities: { user_id: ['x'.repeat(70_000)] } }, false, 413, 'BODY_TOO_LARGE', /larger than the limit/],
    [{ features: 'user_profile:age', entities: { user_id: ['u1'] } }, false, 400, 'INVALID_REQUEST', /list of 'view:feature'/],
    [{ features: ['user_profile:age'], entities: { user_id: ['u1'] }, full_feature_names: 'yes' }, false, 400, 'INVALID_REQUEST', /full_feature_names/],
    [{ features: ['user_spend:txn_count', 'user_merchant:merchant_txns', 'driver_stats:trips', 'user_profile:age', 'user_spend:spend_7d', 'user_profile:country', 'user_merchant:merchant_txns'], entities: {} }, false, 400, 'INVALID_REQUEST', /requested twice/],
  ];
  for (const [body, raw, status, code, message] of cases) {
    const response = await post(body, raw);
    assert.equal(response.status, status, `${JSON.stringify(body).slice(0, 80)} => ${JSON.stringify(response.json)}`);
    assert.equal(response.json.code, code);
    assert.match(response.json.message, message);
  }
  const notFound = await fetch(`${url}/nope`);
  assert.equal(notFound.status, 404);
  assert.match(((await notFound.json()) as { message: string }).message, /no route GET \/nope/);
  // A form content type (curl -d) is read as JSON too.
  const form = await fetch(`${url}/get-online-features`, { method: 'POST', body: JSON.stringify({ features: ['user_profile:age'], entities: { user_id: ['u1'] } }), headers: { ...consumer.headers, 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(form.status, 200);
});

test('error bodies quote at most ~100 characters of the input, with its length: a huge name never comes back whole', async () => {
  const huge = 'x'.repeat(60_000); // under this server's 64 KiB body limit
  const cases: [unknown, string, RegExp][] = [
    [{ features: [`user_profile:${huge}`], entities: { user_id: ['u1'] } }, 'UNKNOWN_FEATURE', /has no feature 'x{100}…' \(60000 characters\) \(it has: age, country, score, tags\)/],
    [{ features: [`${huge}:age`], entities: { user_id: ['u1'] } }, 'UNKNOWN_FEATURE_VIEW', /features\[0\] 'x{100}…' \(60004 characters\): unknown feature view 'x{100}…' \(60000 characters\)/],
    [{ features: [huge], entities: { user_id: ['u1'] } }, 'INVALID_REQUEST', /features\[0\]: 'x{100}…' \(60000 characters\) is not of the form/],
    [{ feature_service: huge, entities: { user_id: ['u1'] } }, 'UNKNOWN_FEATURE_SERVICE', /unknown feature service 'x{100}…' \(60000 characters\)/],
    [{ features: ['user_profile:age', 'user_profile:age'], entities: { user_id: ['u1'] } }, 'INVALID_REQUEST', /'user_profile:age' is requested twice/],
    [{ features: ['user_profile:age'], entities: { [huge]: ['u1'], ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, []])) } }, 'MISSING_JOIN_KEY', /given: 'x{100}…' \(60000 characters\), 'k0', .*'k8' and 21 more\)/],
  ];
  for (const [body, code, message] of cases) {
    const response = await fetch(`${url}/get-online-features`, { method: 'POST', headers: consumer.headers, body: JSON.stringify(body) });
    const text = await response.text();
    assert.ok(response.status >= 400 && response.status < 500, `${response.status} ${text.slice(0, 300)}`);
    assert.ok(text.length < 800, `the error body is ${text.length} characters: ${text.slice(0, 300)}`);
    const json = JSON.parse(text) as { code: string; message: string };
    assert.equal(json.code, code);
    assert.match(json.message, message);
  }
  const route = await fetch(`${url}/${huge.slice(0, 5000)}`);
  const text = await route.text();
  assert.equal(route.status, 404);
  assert.ok(text.length < 800, `the 404 body is ${text.length} characters`);
  assert.match(text, /no route GET \/x{99}… \(5001 characters\)/);
});

test('random and hostile bodies never make it answer 500 or crash', async () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const atoms: unknown[] = [null, true, 0, -1, 1e308, 'u1', '', '__proto__', [], {}, ['driver_stats:trips'], { user_id: ['u1'] }, 2 ** 60];
  const pick = () => atoms[Math.floor(random() * atoms.length)];
  const bodies: string[] = ['{"__proto__": {"features": ["x:y"]}}', '{"constructor": {"prototype": {}}}', 'null', '"text"', '1', '[]', '{"features": null, "feature_service": null}'];
  for (let i = 0; i < 150; i++) {
    const body: Record<string, unknown> = {};
    if (random() < 0.6) body.features = random() < 0.5 ? pick() : [pick(), 'user_profile:age'];
    if (random() < 0.4) body.feature_service = random() < 0.5 ? pick() : 'fraud_model';
    if (random() < 0.8) body.entities = random() < 0.3 ? pick() : { user_id: [pick(), 'u1'], merchant_id: [pick(), pick()], driver_id: [pick(), 1] };
    if (random() < 0.3) body.full_feature_names = pick();
    bodies.push(JSON.stringify(body));
  }
  for (const body of bodies) {
    const response = await post(body, true);
    assert.ok(response.status < 500, `${body} => ${response.status} ${JSON.stringify(response.json)}`);
    if (response.status >= 400) assert.equal(typeof response.json.message, 'string');
  }
  assert.equal((await fetch(`${url}/health`)).status, 200, 'still up');
});

test('health, and metrics: latency per endpoint and feature service, counts by status, view ages', async () => {
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', project: fixture.config.project, redis: 'ok', registry: 'ok', online: 'ok' });

  // A watermark for user_spend, at a commit of the registry's log.
  const generation = (await fixture.registry.activeGeneration('user_spend', 1)).generation;
  const eventTime = new Date(now - 60_000);
  const { commit } = await fixture.registry.commit({
    view: 'user_spend',
    version: 1,
    batchId: 'b1',
    schemaVersion: 1,
    objects: [{ key: 'k1', rowCount: 2, minEventTime: new Date(now - 1.5 * HOUR), maxEventTime: eventTime, checksum: 'c', bytes: 1 }],
  });
  await fixture.registry.advanceWatermark('user_spend', 1, generation, commit.seq);

  await post({ feature_service: 'driver_model', entities: { driver_id: [1001, 5] } });
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.match(text, /granary_serving_request_duration_seconds_count\{endpoint="\/get-online-features",feature_service="driver_model"\} 1\n/);
  assert.match(text, /granary_serving_requests_total\{endpoint="\/get-online-features",status="200"\} \d+/);
  assert.match(text, /granary_serving_requests_total\{endpoint="\/get-online-features",status="404"\} \d+/);
  assert.match(text, /granary_serving_feature_values_total\{status="NOT_FOUND"\} \d+/);
  assert.match(text, /granary_serving_redis_errors_total 0/);
  const rowAge = Number(/granary_view_newest_row_age_seconds\{view="user_spend",version="1"\} ([\d.e+-]+)/.exec(text)?.[1]);
  const watermarkAge = Number(/granary_view_watermark_age_seconds\{view="user_spend",version="1"\} ([\d.e+-]+)/.exec(text)?.[1]);
  assert.ok(rowAge >= 60 && rowAge < 600, `newest row age ${rowAge}`);
  assert.ok(watermarkAge >= 0 && watermarkAge < 60, `watermark age ${watermarkAge}`);
  assert.match(text, new RegExp(`granary_view_watermark_seq\\{view="user_spend",version="1",generation="${generation}"\\} ${commit.seq}`));
});
