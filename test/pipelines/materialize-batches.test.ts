import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { writeViewObjects } from '../../pipelines/write-view-objects.ts';
import { objectKey } from '../../stores/offline/object-key.ts';
import { driverRows, driverStats, type DriverRow } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';

/**
 * Materialization applies a run of pending commits in one activity (applyCommits): each row read
 * once, the newest row of each entity written. Commits are made here straight in the registry (as
 * an ingest that crashed before materializing leaves them), so several are pending at once.
 */
const fixture = await pipelineFixture('matbatch');
await fixture.startWorker();
const { store, registry, ref } = fixture;

async function commitRows(batchId: string, rows: readonly DriverRow[]): Promise<number> {
  const table = toViewTable(driverStats, rows);
  const objects = await writeViewObjects(store.stores.offline, driverStats, table, (eventDate) => objectKey({ ...ref, eventDate, batchId, part: 0 }));
  return (await registry.commit({ view: ref.view, version: ref.version, batchId, schemaVersion: 1, objects })).commit.seq;
}

test('several pending commits applied at once leave online exactly what applying them one by one would', async () => {
  const now = Date.now();
  const at = (ago: number) => new Date(now - ago);
  const [base] = driverRows(1, { now });
  const row = (id: bigint, eventAgo: number, createdAgo: number, tier: string): DriverRow => ({ ...base!, driver_id: id, event_timestamp: at(eventAgo), created_timestamp: at(createdAgo), tier });

  // Background: 2,000 rows over 500 drivers in three commits.
  await commitRows('bg-1', driverRows(800, { entities: 500, now, salt: 1 }));
  await commitRows('bg-2', driverRows(700, { entities: 500, now, salt: 2 }));
  // Driver 9001: the newest comes first, an older one later (must not win).
  await commitRows('d-1', [row(9001n, 60_000, 60_000, 'newest')]);
  await commitRows('d-2', [row(9001n, 3_600_000, 0, 'late-and-older'), row(9002n, 120_000, 120_000, 'first')]);
  // Driver 9002: same event time, greater created time wins; an exact tie keeps the first.
  await commitRows('d-3', [row(9002n, 120_000, 110_000, 'corrected'), row(9003n, 5000, 5000, 'tie-first')]);
  await commitRows('d-4', [row(9003n, 5000, 5000, 'tie-second')]);
  const last = await commitRows('bg-3', driverRows(500, { entities: 500, now, salt: 3 }));

  const [result] = await store.materialize(['driver_stats']);
  assert.equal(result!.watermark, last);
  assert.equal(result!.commitsApplied, 7, 'every pending commit counted');
  assert.equal(result!.rowsWritten, 503, 'one write per entity: 500 drivers and 3 more');
  assert.equal(result!.rowsWritten + result!.rowsSkipped + (result!.rowsRefused ?? 0), 2000 + 6, 'every row read is written, skipped or refused');

  const online = await store.getOnlineFeatures({ features: ['driver_stats:tier'], entityRows: [{ driver_id: 9001n }, { driver_id: 9002n }, { driver_id: 9003n }] });
  assert.deepEqual(online.rows.map((r) => r.values[0]), ['newest', 'corrected', 'tie-first']);
  const [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.offlineEntities, 503);
  assert.equal(report!.matching, 503);
});
