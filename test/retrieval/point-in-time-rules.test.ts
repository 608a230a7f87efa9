import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import { getHistoricalFeatures } from '../../retrieval/historical-features.ts';
import { historicalFixture, rowsOf, typedTable } from './historical-fixtures.ts';

/**
 * Each rule of historical retrieval on a small case written out by hand, with its expected
 * values, against the real registry (PostgreSQL) and a local offline store.
 */
const H = 3_600_000;
const T = Date.UTC(2024, 4, 1, 12);

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const merchant = entity({ name: 'merchant', joinKey: 'merchant_id', valueType: 'int64' });
const device = entity({ name: 'device', joinKey: 'device_id', valueType: 'int32' });

const userStats = featureView({
  name: 'user_stats',
  entities: [user],
  source: parquetSource({ name: 'user_source', path: 'data/users', createdTimestampColumn: 'created_timestamp' }),
  schema: [
    { name: 'spend', type: 'float64' },
    { name: 'txn', type: 'int64' },
    { name: 'tier', type: 'string' },
  ],
  ttl: '1d',
});
const merchantRisk = featureView({
  name: 'merchant_risk',
  entities: [merchant],
  source: parquetSource({ name: 'merchant_source', path: 'data/merchants' }),
  schema: [{ name: 'risk', type: 'float32' }],
  ttl: '2h',
});
const deviceV1 = featureView({
  name: 'device_stats',
  entities: [device],
  source: parquetSource({ name: 'device_source', path: 'data/devices' }),
  schema: [{ name: 'score', type: 'float64' }],
  ttl: '1d',
});
const deviceV1Additive = featureView({
  name: 'device_stats',
  entities: [device],
  source: parquetSource({ name: 'device_source', path: 'data/devices' }),
  schema: [
    { name: 'score', type: 'float64' },
    { name: 'score2', type: 'int64' },
  ],
  ttl: '1d',
});
const fraud = featureService({ name: 'fraud_v1', features: ['merchant_risk:risk', 'user_stats:txn', 'user_stats:spend'] });

const repo = buildFeatureRepo('.', [{ definition: userStats }, { definition: merchantRisk }, { definition: deviceV1 }, { definition: fraud }]);
const fixture = await historicalFixture('pit_rules', repo);
const { registry, offline, commitRows } = fixture;

const u = (user_id: string, e: number, c: number, spend: number | null, txn: bigint, tier: string) => ({
  user_id,
  event_timestamp: e,
  created_timestamp: c,
  spend,
  txn,
  tier,
});

before(async () => {
  await commitRows(
    'user_stats',
    [
      u('u1', T - 3 * H, T - 3 * H, 1, 1n, 'a'),
      u('u1', T - H, T - H + 5, 2, 2n, 'b'),
      u('u1', T - H, T - H + 10, 3, 3n, 'c'), // same event time, later created: wins
      u('u1', T + H, T + H, 4, 4n, 'future'),
      u('u2', T - 24 * H, T - 24 * H, 5, 5n, 'edge'), // exactly TTL before T
      u('u3', T - 24 * H - 1, T - 24 * H, 6, 6n, 'outside'), // 1 ms past the TTL
      u('u4', T, T, null, 7n, 'd'), // event time equal to the label's; a null feature
    ],
    { batchId: 'users-1', objects: 2 },
  );
  // A late commit: an older row of u5 committed after a newer one.
  await commitRows('user_stats', [u('u5', T - 2 * H, 0, 10, 10n, 'new')], { batchId: 'u5-new' });
  await commitRows('user_stats', [u('u5', T - 3 * H, 0, 11, 11n, 'late')], { batchId: 'u5-late' });
  // Equal event and created times in two commits: the first commit's row, as online.
  await commitRows('user_stats', [u('u6', T - H, T - H, 20, 20n, 'first')], { batchId: 'u6-a' });
  await commitRows('user_stats', [u('u6', T - H, T - H, 21, 21n, 'second')], { batchId: 'u6-b' });
  // Written but never committed: invisible.
  await commitRows('user_stats', [u('u7', T - H, T - H, 30, 30n, 'uncommitted')], { batchId: 'u7', commit: false });

  await commitRows(
    'merchant_risk',
    [
      { merchant_id: 1n, event_timestamp: T - H, risk: 0.5 },
      { merchant_id: 1n, event_timestamp: T - 3 * H, risk: 0.25 },
      { merchant_id: 2n, event_timestamp: T, risk: 0.75 },
    ],
    { batchId: 'merchants-1' },
  );

  // Schema version 1 of device_stats has score only; version 2 adds score2 (additive).
  await commitRows('device_stats', [{ device_id: 1, event_timestamp: T - H, score: 1.5 }], { batchId: 'dev-v1' });
  await registry.apply(buildFeatureRepo('.', [{ definition: userStats }, { definition: merchantRisk }, { definition: deviceV1Additive }, { definition: fraud }]));
  await commitRows('device_stats', [{ device_id: 2, event_timestamp: T - H, score: 2.5, score2: 9n }], { batchId: 'dev-v2' });
});

function labels(rows: readonly { user_id: string | null; merchant_id?: bigint; t: number; label: number }[]) {
  return typedTable([
    { name: 'user_id', type: 'string', values: rows.map((r) => r.user_id) },
    { name: 'merchant_id', type: 'int64', values: rows.map((r) => r.merchant_id ?? 1n) },
    { name: 'event_timestamp', type: 'timestamp', values: rows.map((r) => r.t) },
    { name: 'label', type: 'int32', values: rows.map((r) => r.label) },
  ]);
}

async function spendOf(rows: readonly { user_id: string | null; t: number }[]) {
  const table = await getHistoricalFeatures(registry, offline, {
    entities: labels(rows.map((r, i) => ({ ...r, label: i }))),
    features: ['user_stats:spend', 'user_stats:tier'],
  });
  return rowsOf(table).map((r) => [r.spend, r.tier]);
}

test('the greatest event time at or before the row time, never a future one', async () => {
  assert.deepEqual(await spendOf([{ user_id: 'u1', t: T - 2 * H }, { user_id: 'u1', t: T - 4 * H }, { user_id: 'u1', t: T + 2 * H }]), [
    [1, 'a'],
    [null, null], // before any row of u1
    [4, 'future'], // the row at T + 1h is in the past of T + 2h
  ]);
});

test('an event time equal to the row time counts; a null feature stays null', async () => {
  assert.deepEqual(await spendOf([{ user_id: 'u4', t: T }]), [[null, 'd']]);
});

test('ties on event time go to the greatest created timestamp, then to the first commit', async () => {
  assert.deepEqual(await spendOf([{ user_id: 'u1', t: T }, { user_id: 'u6', t: T }]), [
    [3, 'c'],
    [20, 'first'],
  ]);
});

test('TTL: a row exactly TTL before counts, 1 ms older does not', async () => {
  assert.deepEqual(await spendOf([{ user_id: 'u2', t: T }, { user_id: 'u3', t: T }, { user_id: 'u2', t: T + 1 }]), [
    [5, 'edge'],
    [null, null],
    [null, null],
  ]);
});

test('entities with no history, null join keys and uncommitted objects give nulls', async () => {
  assert.deepEqual(await spendOf([{ user_id: 'u9', t: T }, { user_id: null, t: T }, { user_id: 'u7', t: T }]), [
    [null, null],
    [null, null],
    [null, null],
  ]);
});

test('late commits count by event time: the older row serves only times before the newer one', async () => {
  assert.deepEqual(await spendOf([{ user_id: 'u5', t: T }, { user_id: 'u5', t: T - 2.5 * H }]), [
    [10, 'new'],
    [11, 'late'],
  ]);
});

test('every input row comes out in order, duplicates included, with its other columns', async () => {
  const input = [
    { user_id: 'u1', t: T, label: 7 },
    { user_id: 'u9', t: T, label: 8 },
    { user_id: 'u1', t: T, label: 7 },
    { user_id: 'u1', t: T - 2 * H, label: 9 },
  ];
  const table = await getHistoricalFeatures(registry, offline, { entities: labels(input), features: ['user_stats:spend'] });
  assert.deepEqual(
    rowsOf(table).map((r) => [r.user_id, r.event_timestamp, r.label, r.spend]),
    [
      ['u1', T, 7, 3],
      ['u9', T, 8, null],
      ['u1', T, 7, 3],
      ['u1', T - 2 * H, 9, 1],
    ],
  );
});

test("several views keyed by different entities, in the feature service's order, each with its own TTL", async () => {
  const input = [
    { user_id: 'u1', merchant_id: 1n, t: T, label: 1 },
    { user_id: 'u4', merchant_id: 2n, t: T, label: 0 }, // both views have a row at exactly T
    { user_id: 'u1', merchant_id: 1n, t: T + 1.5 * H, label: 1 }, // merchant row 2.5 h old: past its 2 h TTL
  ];
  const table = await getHistoricalFeatures(registry, offline, { entities: labels(input), featureService: 'fraud_v1' });
  assert.deepEqual(
    table.schema.fields.map((f) => f.name),
    ['user_id', 'merchant_id', 'event_timestamp', 'label', 'risk', 'txn', 'spend'],
  );
  assert.deepEqual(
    rowsOf(table).map((r) => [r.risk, r.txn, r.spend]),
    [
      [0.5, 3n, 3],
      [0.75, 7n, null],
      [null, 4n, 4], // user_stats (TTL 1 day) has u1's row at T + 1h by then
    ],
  );
  const full = await getHistoricalFeatures(registry, offline, { entities: labels(input), featureService: 'fraud_v1', fullFeatureNames: true });
  assert.deepEqual(full.schema.fields.slice(4).map((f) => f.name), ['merchant_risk__risk', 'user_stats__txn', 'user_stats__spend']);
});

test('objects of an older additive schema version read with nulls for the features they lack', async () => {
  const entities = typedTable([
    { name: 'device_id', type: 'int32', values: [1, 2] },
    { name: 'event_timestamp', type: 'timestamp', values: [T, T] },
  ]);
  const table = await getHistoricalFeatures(registry, offline, { entities, features: ['device_stats:score', 'device_stats:score2'] });
  assert.deepEqual(
    rowsOf(table).map((r) => [r.device_id, r.score, r.score2]),
    [
      [1, 1.5, null],
      [2, 2.5, 9n],
    ],
  );
});

test('labels from a text file: keys and timestamps typed like ingestion, the timestamp column becomes a timestamp', async () => {
  const { csvToTable } = await import('../../ingest/csv-table.ts');
  const entities = csvToTable(`merchant_id,event_timestamp,label\n1,${new Date(T).toISOString()},yes\n2,2024-05-01 12:00:00,no\n`);
  const table = await getHistoricalFeatures(registry, offline, { entities, features: ['merchant_risk:risk'] });
  assert.deepEqual(
    rowsOf(table).map((r) => [r.merchant_id, r.event_timestamp, r.label, r.risk]),
    [
      ['1', T, 'yes', 0.5],
      ['2', T, 'no', 0.75],
    ],
  );
  assert.equal(String(table.schema.fields[1]!.type), 'Timestamp<MILLISECOND, UTC>');
});

test('without an entity table: every entity with a row in [start, end], its latest values as of end', async () => {
  const table = await getHistoricalFeatures(registry, offline, { features: ['user_stats:spend'], start: T - 2 * H, end: T });
  const byUser = Object.fromEntries(rowsOf(table).map((r) => [r.user_id, r.spend]));
  assert.deepEqual(byUser, { u1: 3, u4: null, u5: 10, u6: 20 });
  assert.ok(rowsOf(table).every((r) => r.event_timestamp === T));
  // Without start, the view's TTL is the window: u2's row exactly 1 day old counts, u3's does not.
  const ttl = await getHistoricalFeatures(registry, offline, { features: ['user_stats:tier'], end: T });
  assert.deepEqual(rowsOf(ttl).map((r) => r.user_id).sort(), ['u1', 'u2', 'u4', 'u5', 'u6']);
});

test('bad requests are refused with errors naming the problem', async () => {
  const entities = labels([{ user_id: 'u1', t: T, label: 1 }]);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities, features: ['user_stats:nope'] }), /feature view 'user_stats' has no feature 'nope'/);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities, features: ['nowhere:x'] }), /feature view 'nowhere' is not applied/);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities, features: ['device_stats:score'] }), /no join-key column 'device_id'/);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities, featureService: 'fraud_v1', features: ['user_stats:spend'] }), /either features .* or featureService/);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities, features: ['merchant_risk:risk'], eventTimestampColumn: 'ts' }), /no event-timestamp column 'ts'/);
  const clash = typedTable([
    { name: 'user_id', type: 'string', values: ['u1'] },
    { name: 'event_timestamp', type: 'timestamp', values: [T] },
    { name: 'spend', type: 'float64', values: [1] },
  ]);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities: clash, features: ['user_stats:spend'] }), /output column 'spend'.*fullFeatureNames/);
  const nullTime = typedTable([
    { name: 'user_id', type: 'string', values: ['u1', 'u2'] },
    { name: 'event_timestamp', type: 'timestamp', values: [T, null] },
  ]);
  await assert.rejects(getHistoricalFeatures(registry, offline, { entities: nullTime, features: ['user_stats:spend'] }), /row 2, column 'event_timestamp': the event timestamp is null/);
});

test('an empty entity table gives an empty training set with the full schema', async () => {
  const table = await getHistoricalFeatures(registry, offline, { entities: labels([]), featureService: 'fraud_v1' });
  assert.equal(table.numRows, 0);
  assert.deepEqual(
    table.schema.fields.map((f) => f.name),
    ['user_id', 'merchant_id', 'event_timestamp', 'label', 'risk', 'txn', 'spend'],
  );
});
