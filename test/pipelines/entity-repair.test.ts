import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { onlineTarget } from '../../pipelines/registered-view.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { BatchValidationError } from '../../ingest/batch-validation-error.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { driverRows, driverStats } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Issue 12, item 1: a far-future event time (a year typo, 9999-12-31) is refused at ingest; an
 * entity already poisoned by one (data from before that check) is corrected by `granary repair`,
 * and materialization, rebuild and verify refuse such committed rows.
 */
const fixture = await pipelineFixture('repair');
await fixture.startWorker();
const { store, registry, ref, config, env } = fixture;
const cli = (...args: string[]) => granary(args, { project: ref.project, env });
const HOUR = 3_600_000;
const FUTURE = new Date('9999-12-31T23:59:59Z');

async function target() {
  return onlineTarget(ref, driverStats, (await registry.activeGeneration(ref.view, ref.version)).generation);
}

async function served(driverId: bigint) {
  const result = await store.getOnlineFeatures({ features: ['driver_stats:tier'], entityRows: [{ driver_id: driverId }] });
  return { tier: result.rows[0]!.values[0], status: result.rows[0]!.statuses[0] };
}

test('a 9999-12-31 event time is refused at ingest, naming row and column, through the SDK and granary ingest', async (t) => {
  const before = await registry.commits(ref.view, ref.version);
  const rows = driverRows(3, { entities: 3, salt: 1 });
  rows[1] = { ...rows[1]!, event_timestamp: FUTURE };
  await assert.rejects(store.push('driver_stats', rows), (error: unknown) => {
    assert.ok(error instanceof BatchValidationError);
    assert.match(error.message, /^view 'driver_stats': 1 problem in the batch, nothing was written/);
    assert.match(error.message, /row 2, column 'event_timestamp' \(event timestamp\): 9999-12-31T23:59:59\.000Z is later than now \+ 1h/);
    return true;
  });
  const createdLater = driverRows(1, { salt: 2 }).map((r) => ({ ...r, created_timestamp: new Date(Date.now() + 3 * HOUR) }));
  await assert.rejects(store.push('driver_stats', createdLater), /row 1, column 'created_timestamp' \(created timestamp\): .* is later than now \+ 1h/);

  const dir = await tempDir('repair-cli');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const header = 'driver_id,event_timestamp,created_timestamp,conv_rate,acc_rate,trips,tier,active,zones';
  const now = Date.now();
  const line = (id: number, at: string, conv = '0.5') => `${id},${at},,${conv},0.25,3,gold,true,"[""z1""]"`;
  const csv = join(dir, 'batch.csv');
  await writeFile(csv, [header, line(1, new Date(now - HOUR).toISOString()), line(2, '9999-12-31T23:59:59Z')].join('\n'));
  const refused = await cli('ingest', 'driver_stats', csv);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /row 2, column 'event_timestamp' \(event timestamp\): 9999-12-31T23:59:59\.000Z is later than now \+ 1h/);
  // Item 2: a value that does not fit the declared type is refused, not stored as Infinity.
  await writeFile(csv, [header, line(1, new Date(now - HOUR).toISOString(), '1e400')].join('\n'));
  const overflow = await cli('ingest', 'driver_stats', csv);
  assert.equal(overflow.code, 1);
  assert.match(overflow.stderr, /row 1, column 'conv_rate' \(float32\): '1e400' is outside the float32 range/);
  // Item 3: a file without a declared feature column is refused unless --allow-missing-features.
  await writeFile(csv, [header.replace(',zones', ''), `5,${new Date(now - HOUR).toISOString()},,0.5,0.25,3,gold,true`].join('\n'));
  const missing = await cli('ingest', 'driver_stats', csv);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /view 'driver_stats': 1 problem in the batch.*feature column 'zones' missing from the batch .*--allow-missing-features/);
  assert.deepEqual(await registry.commits(ref.view, ref.version), before, 'nothing was committed');
  const allowed = await cli('ingest', 'driver_stats', csv, '--allow-missing-features', '--json');
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(JSON.parse(allowed.stdout).rows, 1);
});

test('an entity poisoned by a far-future row (written before the check) is repaired; verify ok and the correct value served', async () => {
  const id = 7n;
  const [good] = driverRows(1, { salt: 3 }).map((r) => ({ ...r, driver_id: id, event_timestamp: new Date(Date.now() - 2 * HOUR), created_timestamp: new Date(Date.now() - 2 * HOUR), tier: 'gold' }));
  await store.push('driver_stats', [good!]);
  assert.deepEqual(await served(id), { tier: 'gold', status: 'PRESENT' });

  // The poisoned row, committed as the code before the fix did (no future check at ingest).
  const unchecked = await FeatureStore.open({ config: { ...config, ingest: { maxFutureSkewMs: Infinity } } });
  const poison = { ...good!, event_timestamp: FUTURE, created_timestamp: FUTURE, tier: 'poison' };
  try {
    const pushed = await unchecked.push('driver_stats', [poison]);
    assert.equal(pushed.created, true);
  } finally {
    await unchecked.close();
  }
  // Materialization now refuses it: the entity keeps its valid row, verify counts the refused row.
  assert.deepEqual(await served(id), { tier: 'gold', status: 'PRESENT' });
  let [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.refused, 1);

  // Redis as the code before the fix left it: the 9999 row won the monotonic write.
  const poisonedRow = { entityKey: [id], values: { tier: 'poison' }, eventTime: FUTURE.getTime(), createdTime: FUTURE.getTime() };
  assert.equal((await store.stores.online.writeRows(await target(), [poisonedRow])).written, 1);
  assert.deepEqual(await served(id), { tier: 'poison', status: 'PRESENT' });
  // A later, correct row loses to it: nothing but repair can fix the entity.
  const correctAt = new Date(Date.now() - HOUR);
  await store.push('driver_stats', [{ ...good!, event_timestamp: correctAt, created_timestamp: correctAt, tier: 'silver' }]);
  assert.deepEqual(await served(id), { tier: 'poison', status: 'PRESENT' });
  [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, false);
  assert.equal(report!.stale, 1, report!.examples.join('\n'));

  const repaired = await cli('repair', 'driver_stats', '--entity', '7');
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, /7 +9999-12-31T23:59:59\.000Z +\S+ +written/);
  assert.match(repaired.stdout, /1 entity repaired in generation\(s\) \d+; 1 committed row\(s\) refused/);
  assert.deepEqual(await served(id), { tier: 'silver', status: 'PRESENT' });
  [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  // Repair again is a no-op in effect; an entity without a valid row is deleted, not left poisoned.
  const again = await store.repair('driver_stats', [[id], [999n]]);
  assert.deepEqual(again.entities.map((e) => [e.entity, e.action, e.eventTime]), [['7', 'written', correctAt.getTime()], ['999', 'deleted', null]]);
  assert.deepEqual(await served(id), { tier: 'silver', status: 'PRESENT' });
  assert.equal((await cli('repair', 'driver_stats', '--entity', 'abc')).stderr.trim(), "error: --entity 'abc': join key 'driver_id' is int64, got 'abc'");

  // A rebuild from the offline store, which still holds the 9999 row, refuses it too.
  const [rebuilt] = await store.rebuildOnline(['driver_stats'], { wait: true, retireAfterSeconds: 0 });
  assert.ok(rebuilt!.progress.generation > report!.generation, JSON.stringify(rebuilt!.progress));
  assert.deepEqual(await served(id), { tier: 'silver', status: 'PRESENT' });
  [report] = await store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.refused, 1);
});
