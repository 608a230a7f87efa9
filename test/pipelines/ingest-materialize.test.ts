import assert from 'node:assert/strict';
import { test } from 'node:test';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';

const fixture = await pipelineFixture('ingest');
await fixture.startWorker();
const { store, registry, ref } = fixture;

async function onlineRow(driverId: bigint) {
  const target = {
    ...ref,
    generation: (await registry.activeGeneration(ref.view, ref.version)).generation,
    joinKeys: [{ name: 'driver_id', type: 'int64' as const }],
    features: [
      { name: 'conv_rate', type: 'float32' as const },
      { name: 'tier', type: 'string' as const },
    ],
    ttlSeconds: 2 * 86_400,
  };
  const [[row]] = (await store.stores.online.readRows([{ target, entityKeys: [[driverId]] }])) as [[unknown]];
  return row as { values: Record<string, unknown>; eventTime: number; createdTime: number } | null;
}

test('a batch is written offline, committed, then materialized; online equals offline', async () => {
  const rows = driverRows(3000, { entities: 1000 });
  const result = await store.push('driver_stats', rows);
  assert.equal(result.rows, 3000);
  assert.equal(result.created, true);
  assert.equal(result.materialized, true);
  const [commit] = await registry.commits(ref.view, ref.version);
  assert.equal(commit!.seq, result.seq);
  assert.equal(commit!.objects.reduce((n, o) => n + o.rowCount, 0), 3000, 'every row is in the commit');

  const [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.offlineEntities, 1000);
  assert.equal(report!.matching, 1000);
  assert.equal(report!.watermark, result.seq);
});

test('invalid rows reject the whole batch, naming row and column, and write nothing', async () => {
  const before = await registry.commits(ref.view, ref.version);
  const rows: Record<string, unknown>[] = driverRows(10).map((r) => ({ ...r }));
  rows[3] = { ...rows[3], trips: 'many' };
  rows[6] = { ...rows[6], driver_id: null };
  await assert.rejects(store.push('driver_stats', rows), (error: Error) => {
    assert.match(error.message, /driver_stats/);
    assert.match(error.message, /row 4.*trips|trips.*row 4/s);
    return true;
  });
  assert.deepEqual(await registry.commits(ref.view, ref.version), before, 'no commit was made');
  await assert.rejects(store.push('no_such_view', driverRows(1)), /feature view 'no_such_view' is not applied/);
});

test('the same batch id twice, even at once, is ingested once', async () => {
  const rows = driverRows(200, { entities: 50, salt: 5 });
  const [a, b] = await Promise.all([store.push('driver_stats', rows, { batchId: 'dup-1' }), store.push('driver_stats', rows, { batchId: 'dup-1' })]);
  assert.equal(a.seq, b.seq);
  const again = await store.push('driver_stats', rows, { batchId: 'dup-1' });
  assert.equal(again.seq, a.seq);
  const commits = (await registry.commits(ref.view, ref.version)).filter((c) => c.batchId === 'dup-1');
  assert.equal(commits.length, 1);
  // Without a batch id, the same rows hash to the same id.
  const c = await store.push('driver_stats', rows.slice(0, 10));
  const d = await store.push('driver_stats', rows.slice(0, 10));
  assert.equal(c.seq, d.seq);
  assert.equal(d.created, false);
});

test('late and out-of-order rows: older events never overwrite newer ones; corrections do', async () => {
  const now = Date.now();
  const id = 999_001n;
  const base = driverRows(1, { now })[0]!;
  const row = (eventAgo: number, created: number, tier: string) => ({
    ...base,
    driver_id: id,
    event_timestamp: new Date(now - eventAgo),
    created_timestamp: new Date(now - eventAgo + created),
    tier,
  });
  await store.push('driver_stats', [row(60_000, 0, 'newest')]);
  // An older event arrives later, in a later commit: materialized, but it must not win.
  await store.push('driver_stats', [row(3_600_000, 0, 'late-and-older')]);
  assert.equal((await onlineRow(id))?.values.tier, 'newest');
  // A correction: same event time, newer created time.
  await store.push('driver_stats', [row(60_000, 5000, 'corrected')]);
  assert.equal((await onlineRow(id))?.values.tier, 'corrected');
  // Out of order inside one batch: the newest row wins whatever its position.
  await store.push('driver_stats', [row(1000, 0, 'b-newest'), row(120_000, 0, 'b-old'), row(30_000, 0, 'b-mid')].map((r) => ({ ...r, driver_id: 999_002n })));
  assert.equal((await onlineRow(999_002n))?.values.tier, 'b-newest');
  const [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
});

test('two materializations of one view started at once share one workflow and converge', async () => {
  await store.push('driver_stats', driverRows(500, { entities: 100, salt: 9 }), { batchId: 'mat-race' });
  const [a, b] = await Promise.all([store.materialize(['driver_stats']), store.materialize(['driver_stats'])]);
  const latest = await registry.latestCommitSeq(ref.view, ref.version);
  assert.equal(a[0]!.watermark, latest);
  assert.equal(b[0]!.watermark, latest);
  const [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.watermark, latest);
});
