import assert from 'node:assert/strict';
import { rm, utimes } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { OfflineStore } from '../../stores/offline/offline-store.ts';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { eventDateOf, objectKey, stagingKey } from '../../stores/offline/object-key.ts';
import { eventTimeRange } from '../../pipelines/row-conversion.ts';
import { collectOfflineGarbage } from '../../sdk/offline-garbage.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * `granary gc`: offline objects no commit names (a write whose commit never came, a staged
 * upload) go once older than the grace period; younger ones and committed ones stay. The CLI
 * runs on a local offline store, whose file times can be set back; the SDK call runs on MinIO.
 */
type Fixture = Awaited<ReturnType<typeof pipelineFixture>>;

/** Objects of every kind gc meets, as the write path leaves them (committed ones through the registry). */
async function writeObjects(fixture: Fixture) {
  const { store, registry, ref } = fixture;
  const view = await store.view('driver_stats');
  const table = toViewTable(view, driverRows(50));
  const range = eventTimeRange(view, table);
  const dataKey = (batchId: string) => objectKey({ ...ref, eventDate: eventDateOf(range.min), batchId });
  const keys = {
    committed: dataKey('committed-1'),
    crashed: dataKey('crashed-1'),
    staged: stagingKey(ref.project, ref.view, ref.version, 'committed-1'),
    inFlight: dataKey('in-flight-1'),
  };
  const infos = await Promise.all(Object.values(keys).map((key) => store.stores.offline.writeTable(key, table)));
  await registry.commit({
    view: ref.view,
    version: ref.version,
    batchId: 'committed-1',
    schemaVersion: 1,
    objects: [{ ...infos[0]!, minEventTime: new Date(range.min), maxEventTime: new Date(range.max) }],
  });
  return keys;
}

async function present(offline: OfflineStore, keys: readonly string[]): Promise<string[]> {
  const found = await Promise.all(keys.map((key) => offline.exists(key)));
  return keys.filter((_, i) => found[i]);
}

test('granary gc removes old uncommitted objects only; --dry-run removes nothing', async () => {
  const dir = await tempDir('gc');
  after(() => rm(dir, { recursive: true, force: true }));
  const fixture = await pipelineFixture('gc_cli', { GRANARY_OFFLINE_URL: dir });
  const offline = fixture.store.stores.offline;
  const keys = await writeObjects(fixture);
  // Every object but the in-flight one two days old, the committed one included.
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
  for (const key of [keys.committed, keys.crashed, keys.staged]) await utimes(offline.localPath(key), twoDaysAgo, twoDaysAgo);
  // Another project's garbage is not this project's business.
  const otherKey = objectKey({ project: `${fixture.ref.project}_other`, view: 'driver_stats', version: 1, eventDate: '2024-01-01', batchId: 'b1' });
  await offline.putBytes(otherKey, new Uint8Array([1, 2, 3]));
  await utimes(offline.localPath(otherKey), twoDaysAgo, twoDaysAgo);
  const all = [...Object.values(keys), otherKey];
  const gc = (...args: string[]) => granary(['gc', ...args], { project: fixture.ref.project, env: fixture.env });

  const dryRun = await gc('--grace', '1d', '--dry-run', '--json');
  assert.equal(dryRun.code, 0, dryRun.stderr);
  assert.deepEqual(JSON.parse(dryRun.stdout), {
    scanned: 4,
    committed: 1,
    removed: [keys.crashed, keys.staged].sort(),
    kept: 1,
    dryRun: true,
  });
  assert.deepEqual(await present(offline, all), all, '--dry-run removed nothing');

  const run = await gc('--grace', '1d');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.stdout.trim().split('\n'), [
    ...[keys.crashed, keys.staged].sort().map((key) => `removed ${key}`),
    '4 objects: 1 committed, 2 removed, 1 uncommitted but within the grace period.',
  ]);
  assert.deepEqual(await present(offline, all), [keys.committed, keys.inFlight, otherKey]);
  let rows = 0;
  for await (const { table } of offline.readTable(keys.committed)) rows += table.numRows;
  assert.equal(rows, 50, 'the committed object still reads');

  const bad = await gc('--grace', 'a while');
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, "error: --grace must be a duration such as 24h or 30m, got 'a while'\n");
});

test('on S3 (MinIO): an uncommitted object goes once older than the grace period, a committed one never', async () => {
  const fixture = await pipelineFixture('gc_s3');
  const stores = { registry: fixture.registry, offline: fixture.store.stores.offline };
  const keys = await writeObjects(fixture);
  const all = Object.values(keys);

  const young = await collectOfflineGarbage(stores, fixture.ref.project, { graceSeconds: 3600 });
  assert.deepEqual(young, { scanned: 4, committed: 1, removed: [], kept: 3, dryRun: false });
  assert.deepEqual(await present(stores.offline, all), all);

  // Two hours later, with a grace period of one.
  const later = await collectOfflineGarbage(stores, fixture.ref.project, { graceSeconds: 3600, now: Date.now() + 2 * 3_600_000 });
  assert.deepEqual(later, { scanned: 4, committed: 1, removed: [keys.crashed, keys.inFlight, keys.staged].sort(), kept: 0, dryRun: false });
  assert.deepEqual(await present(stores.offline, all), [keys.committed]);
});
