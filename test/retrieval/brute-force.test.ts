import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../../definitions/index.ts';
import { seededRandom } from '../../definitions/examples/seeded-random.ts';
import type { FeatureView } from '../../definitions/feature-view.ts';
import { getHistoricalFeatures } from '../../retrieval/historical-features.ts';
import { distributedTrainingSet, historicalFixture, rowsOf, typedTable } from './historical-fixtures.ts';

/**
 * Historical retrieval against a brute-force reference on randomized data: times on a coarse
 * grid so ties on event time (and on created time), equal times across views and rows exactly
 * at the TTL bound are common; null features; entities with no history; commits in random event
 * order (late rows); duplicate label rows; a view with two join keys. The reference scans every
 * committed row in commit order for every label. The engine (DuckDB) must agree row for row,
 * with the objects in a local folder, and with the same objects in MinIO (the stack's S3),
 * fetched through the store's API, under a small memory limit on one thread; and split into
 * entity-hash partitions joined apart and merged (the distributed path's steps), equal row for row.
 */
const MIN = 60_000;
const T0 = Date.UTC(2024, 4, 1);
const random = seededRandom(20240501);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (n: number): number => Math.floor(random() * n);

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const merchant = entity({ name: 'merchant', joinKey: 'merchant_id', valueType: 'int64' });
const views = [
  featureView({
    name: 'a_user',
    entities: [user],
    source: parquetSource({ name: 'a_src', path: 'data/a', createdTimestampColumn: 'created_timestamp' }),
    schema: [
      { name: 'x', type: 'float64' },
      { name: 'n', type: 'int64' },
    ],
    ttl: 30 * 60, // 30 minutes, on a grid of minutes
  }),
  featureView({
    name: 'b_merchant',
    entities: [merchant],
    source: parquetSource({ name: 'b_src', path: 'data/b' }),
    schema: [{ name: 'y', type: 'string' }],
    ttl: 45 * 60,
  }),
  featureView({
    name: 'c_pair',
    entities: [user, merchant],
    source: parquetSource({ name: 'c_src', path: 'data/c', createdTimestampColumn: 'created_timestamp' }),
    schema: [{ name: 'z', type: 'int32' }],
    ttl: 20 * 60,
  }),
];
const features = ['a_user:x', 'a_user:n', 'b_merchant:y', 'c_pair:z'];
const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
const merchants = Array.from({ length: 15 }, (_, i) => BigInt(i * 1_000_003));

const repo = buildFeatureRepo('.', views.map((definition) => ({ definition })));
const fixture = await historicalFixture('pit_brute', repo);
const s3 = await historicalFixture('pit_brute_s3', repo, { s3: true });

/** Committed rows per view, in commit order (the order the reference scans). */
const committed = new Map<string, Record<string, unknown>[]>(views.map((v) => [v.name, []]));

function randomRow(view: FeatureView): Record<string, unknown> {
  const event = T0 + int(240) * MIN;
  const row: Record<string, unknown> = { event_timestamp: event };
  if (view.source.createdTimestampColumn) row.created_timestamp = random() < 0.1 ? null : event + int(3) * MIN;
  if (view.entities.some((e) => e.name === 'user')) row.user_id = pick(users.slice(0, 30)); // users 30..39: no history
  if (view.entities.some((e) => e.name === 'merchant')) row.merchant_id = pick(merchants.slice(0, 12));
  if (view.name === 'a_user') {
    row.x = random() < 0.15 ? null : int(1000) / 4;
    row.n = random() < 0.15 ? null : BigInt(int(100));
  } else if (view.name === 'b_merchant') row.y = random() < 0.15 ? null : `y${int(50)}`;
  else row.z = random() < 0.15 ? null : int(1000) - 500;
  return row;
}

before(async () => {
  let batch = 0;
  for (let round = 0; round < 6; round++) {
    for (const view of views) {
      const rows = Array.from({ length: 60 + int(120) }, () => randomRow(view));
      // Exact duplicates of (entity, event, created) with other values, in the same or a later commit.
      const other = view.name === 'a_user' ? { x: 999 } : view.name === 'b_merchant' ? { y: 'dup' } : { z: 999 };
      for (let i = 0; i < 5; i++) rows.push({ ...pick(rows), ...other });
      const objects = 1 + int(3);
      await fixture.commitRows(view.name, rows, { batchId: `b${batch}`, objects });
      await s3.commitRows(view.name, rows, { batchId: `b${batch++}`, objects });
      // Read order: the commit's objects in turn (commitRows deals rows out to them round-robin).
      for (let part = 0; part < objects; part++) committed.get(view.name)!.push(...rows.filter((_, i) => i % objects === part));
    }
  }
  // Written, never committed: the reference never sees them, and neither may the engine.
  for (const view of views) {
    const lost = Array.from({ length: 30 }, () => randomRow(view));
    await fixture.commitRows(view.name, lost, { batchId: `lost-${view.name}`, commit: false });
    await s3.commitRows(view.name, lost, { batchId: `lost-${view.name}`, commit: false });
  }
});

function labelRows(count: number): { user_id: string | null; merchant_id: bigint; event_timestamp: number; label: number }[] {
  const base = Array.from({ length: Math.ceil(count * 0.8) }, (_, i) => ({
    user_id: random() < 0.02 ? null : pick(users),
    merchant_id: pick(merchants),
    event_timestamp: T0 + int(260) * MIN - 10 * MIN,
    label: i,
  }));
  const dupes = Array.from({ length: count - base.length }, () => ({ ...pick(base) }));
  return [...base, ...dupes].sort(() => random() - 0.5);
}

/** The rule, by definition: scan every committed row of the view, in commit order. */
function reference(view: FeatureView, label: Record<string, unknown>, feature: string): unknown {
  const t = label.event_timestamp as number;
  const ttl = view.ttlSeconds * 1000;
  let best: Record<string, unknown> | null = null;
  for (const row of committed.get(view.name)!) {
    if (view.entities.some((e) => row[e.joinKey] !== label[e.joinKey])) continue;
    const e = row.event_timestamp as number;
    if (e > t || e < t - ttl) continue;
    const c = (row.created_timestamp as number | null | undefined) ?? 0;
    const bestE = best?.event_timestamp as number;
    const bestC = (best?.created_timestamp as number | null | undefined) ?? 0;
    if (!best || e > bestE || (e === bestE && c > bestC)) best = row;
  }
  return best ? (best[feature] ?? null) : null;
}

async function checkAgainstReference(store: typeof fixture, options: { memoryLimit?: string; threads?: number }, partitions?: number): Promise<void> {
  const input = labelRows(1500);
  const entities = typedTable([
    { name: 'user_id', type: 'string', values: input.map((r) => r.user_id) },
    { name: 'merchant_id', type: 'int64', values: input.map((r) => r.merchant_id) },
    { name: 'event_timestamp', type: 'timestamp', values: input.map((r) => r.event_timestamp) },
    { name: 'label', type: 'int32', values: input.map((r) => r.label) },
  ]);
  const request = { entities, features, fullFeatureNames: true, ...options };
  const table = await getHistoricalFeatures(store.registry, store.offline, request);
  const out = rowsOf(table);
  if (partitions !== undefined) {
    // Split into entity-hash partitions, each joined apart, merged: the same rows as in one process.
    const distributed = await distributedTrainingSet(store, request, partitions);
    assert.equal(distributed.split.partitions, partitions);
    assert.deepEqual(distributed.table.schema.fields.map((f) => `${f.name}:${f.type}`), table.schema.fields.map((f) => `${f.name}:${f.type}`));
    assert.deepEqual(rowsOf(distributed.table), out, 'the distributed training set equals the in-process one row for row');
  }
  assert.equal(out.length, input.length);
  let matched = 0;
  for (const [i, label] of input.entries()) {
    const row = out[i]!;
    assert.deepEqual([row.user_id, row.merchant_id, row.event_timestamp, row.label], [label.user_id, label.merchant_id, label.event_timestamp, label.label], `row ${i}`);
    for (const ref of features) {
      const [viewName, feature] = ref.split(':') as [string, string];
      const view = views.find((v) => v.name === viewName)!;
      const expected = reference(view, label, feature);
      assert.deepEqual(row[`${viewName}__${feature}`], expected, `row ${i} (${JSON.stringify(label, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}), ${ref}`);
      if (expected !== null) matched++;
    }
  }
  // The data is meant to exercise both outcomes: enough matches and enough nulls.
  assert.ok(matched > input.length, `only ${matched} matched values`);
  assert.ok(matched < input.length * features.length * 0.9, `${matched} matched values: too few nulls`);
}

test('agrees with the brute-force reference row for row, objects in a local folder', async () => {
  await checkAgainstReference(fixture, {});
});

test('agrees with the brute-force reference row for row, objects fetched from S3, one thread, a small memory limit', async () => {
  await checkAgainstReference(s3, { memoryLimit: '64MB', threads: 1 });
});

test('split into entity-hash partitions, each joined apart, then merged: equal to the in-process training set and to the reference, row for row (objects in S3)', async () => {
  await checkAgainstReference(s3, { threads: 1 }, 5);
});
