import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource, type FeatureView } from '../../definitions/index.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { driverStats } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { sleep } from '../../scripts/worker-process.ts';

/**
 * Schema-version migrations (issue 7) against the real stack: an additive change in place; a
 * breaking change (a rename and a float32 -> int64 retype) migrated end to end while a model
 * keeps reading the old version; the worker killed mid-backfill; the same migration started
 * twice; a value that does not convert.
 */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const source = parquetSource({ name: 'spend_source', path: 'data/spend', createdTimestampColumn: 'created_timestamp' });

function spendV1(extra: { name: string; type: 'float32' }[] = []): FeatureView {
  return featureView({
    name: 'user_spend',
    entities: [user],
    source,
    schema: [{ name: 'spend_7d_avg', type: 'float32' }, { name: 'txn_count_7d', type: 'float32' }, ...extra],
    ttl: '2d',
  });
}

/** Version 2: spend_7d_avg renamed, the count made int64 (it was a float by mistake). */
const spendV2 = featureView({
  name: 'user_spend',
  version: 2,
  entities: [user],
  source,
  schema: [{ name: 'spend_7d_mean', type: 'float32' }, { name: 'txn_count_7d', type: 'int64' }],
  ttl: '2d',
  migrateFrom: { version: 1, rename: { spend_7d_avg: 'spend_7d_mean' }, cast: { txn_count_7d: 'int64' } },
});

function repo(views: FeatureView[], services: { pinned?: boolean; latest?: boolean } = { pinned: true, latest: true }) {
  const v1 = views.find((v) => v.version === 1)!;
  const defs = [
    { definition: driverStats },
    ...views.map((definition) => ({ definition })),
    // Pinned: the view object carries its version. Unpinned: the name alone means the current version.
    ...(services.pinned ? [{ definition: featureService({ name: 'spend_model_v1', features: [v1] }) }] : []),
    ...(services.latest ? [{ definition: featureService({ name: 'spend_model_latest', features: ['user_spend'] }) }] : []),
  ];
  return buildFeatureRepo('.', defs);
}

function spendRows(count: number, options: { entities: number; salt?: number; now?: number; bad?: number }) {
  const { entities, salt = 0, now = Date.now() } = options;
  return Array.from({ length: count }, (_, i) => {
    const eventTime = now - 3_600_000 - ((i * 7919 + salt * 13) % 36_000_000);
    return {
      user_id: `u${i % entities}`,
      event_timestamp: new Date(eventTime),
      created_timestamp: new Date(eventTime + 1000),
      spend_7d_avg: Math.fround(((i + salt) % 500) / 4),
      txn_count_7d: i === options.bad ? 2.5 : (i * 3 + salt) % 40,
    };
  });
}

const entityRows = (n: number) => Array.from({ length: n }, (_, i) => ({ user_id: `u${i}` }));

/** Polls until `check` passes (the serving catalog refreshes every 2 s). */
async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

// The three run at once: each has its own project, task queue and workers, and they mostly wait
// (heartbeat timeouts, grace periods), so the file takes about as long as its longest test.
describe('view migrations', { concurrency: 3 }, () => {
  test('additive, then breaking: a new nullable feature served as null then with values; a rename and a float32 -> int64 retype migrated end to end while a model keeps reading the old version', async () => {
    const f = await pipelineFixture('mig_e2e');
    await f.registry.apply(repo([spendV1()]));
    await f.startWorker();
    for (let b = 0; b < 3; b++) await f.store.push('user_spend', spendRows(1000, { entities: 500, salt: b }), { batchId: `b${b}` });

    // Additive: applied in place as a new schema version; nothing is rewritten.
    const withNew = spendV1([{ name: 'spend_90d_avg', type: 'float32' }]);
    assert.equal((await f.registry.apply(repo([withNew]))).breaking, false);
    const object = await f.registry.getObject('featureView', 'user_spend', 1);
    assert.deepEqual([object!.schemaVersion, object!.status], [2, 'active'], 'bumped in place, no new version');
    await eventually(async () => {
      const read = await f.store.getOnlineFeatures({ featureService: 'spend_model_latest', entityRows: entityRows(3) });
      assert.deepEqual(read.featureNames, ['spend_7d_avg', 'txn_count_7d', 'spend_90d_avg']);
      assert.deepEqual(read.rows.map((r) => r.statuses), Array(3).fill(['PRESENT', 'PRESENT', 'NULL_VALUE']));
    });
    assert.equal((await f.store.verifyInProcess(['user_spend']))[0]!.ok, true, 'old objects (without the column) read with nulls');
    const later = spendRows(3, { entities: 3, salt: 1, now: Date.now() + 30_000 }).map((r, i) => ({ ...r, spend_90d_avg: i / 2 }));
    await f.store.push('user_spend', later, { batchId: 'b-new-feature' });
    await eventually(async () => {
      const read = await f.store.getOnlineFeatures({ featureService: 'spend_model_latest', entityRows: entityRows(3) });
      assert.deepEqual(read.rows.map((r) => r.values[2]), [0, 0.5, 1]);
    });

    // The old model reads its pinned service the whole time.
    let stop = false;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        const read = await f.store.getOnlineFeatures({ featureService: 'spend_model_v1', entityRows: entityRows(50) });
        assert.deepEqual(read.featureNames, ['spend_7d_avg', 'txn_count_7d', 'spend_90d_avg']);
        assert.ok(read.rows.every((r) => r.statuses[0] === 'PRESENT' && r.statuses[1] === 'PRESENT'), 'the old version serves every entity');
        reads += 1;
        await sleep(20);
      }
    })();

    const applied = await f.registry.apply(repo([withNew, spendV2]));
    assert.equal(applied.breaking, false, 'a new version beside the old one is not a breaking change');
    assert.equal((await f.registry.getObject('featureView', 'user_spend', 2))!.status, 'migrating');
    assert.equal((await f.registry.getObject('featureView', 'user_spend'))!.version, 1, 'unpinned still means version 1');

    // Ingestion during the migration lands in both versions (dual-write).
    const duringRows = spendRows(300, { entities: 300, salt: 7, now: Date.now() + 60_000 }).map((r) => ({ ...r, spend_90d_avg: null }));
    const during = await f.store.push('user_spend', duringRows, { batchId: 'during', version: 1 });
    assert.equal(during.migrated?.[0]?.version, 2, JSON.stringify(during));
    assert.equal(during.migrated?.[0]?.error, undefined);

    const handle = await f.store.migrate('user_spend', { wait: 'switched', graceSeconds: 2 });
    assert.equal(handle.workflowId, workflowIds.migrate({ project: f.config.project, view: 'user_spend', from: 1, to: 2 }));
    const p = handle.progress;
    assert.equal(p.state, 'grace', JSON.stringify(p));
    assert.equal(p.commitsDone, 5);
    assert.equal(p.commitsRewritten, 4, 'the commit dual-written during the migration was not rewritten again');
    assert.deepEqual(p.verify && [p.verify.sourceRows, p.verify.migratedRows, p.verify.entities], [3303, 3303, 500]);
    assert.deepEqual(p.switchedServices, ['spend_model_latest']);
    assert.deepEqual(p.pinnedServices, ['spend_model_v1']);

    const v2Commits = await f.registry.commits('user_spend', 2);
    assert.equal(v2Commits.length, 5, 'one copy per old commit, whatever the paths');
    assert.equal((await f.registry.getObject('featureView', 'user_spend'))!.version, 2, 'unpinned now means version 2');
    assert.equal((await f.registry.getObject('featureView', 'user_spend', 1))!.status, 'deprecated');
    await eventually(async () => {
      const latest = await f.store.getOnlineFeatures({ featureService: 'spend_model_latest', entityRows: entityRows(2) });
      assert.deepEqual(latest.featureNames, ['spend_7d_mean', 'txn_count_7d']);
      assert.equal(typeof latest.rows[0]!.values[1], 'bigint', 'the count is int64 now');
    });
    const [report] = await f.store.verifyInProcess(['user_spend']);
    assert.equal(report!.version, 2);
    assert.equal(report!.ok, true, report!.examples.join('\n'));

    // The pinned model keeps version 1 past the grace period: its keys stay while it is pinned.
    await sleep(3000);
    assert.equal((await f.store.migrations('user_spend'))[0]!.state, 'switched');
    stop = true;
    await reader;
    assert.ok(reads > 10, `the old service was read throughout (${reads} reads)`);

    // The old model retired: the next grace check removes version 1's online keys.
    await f.registry.apply(repo([withNew, spendV2], { latest: true }));
    const done = await f.store.followMigration('user_spend', { wait: 'done' });
    assert.equal(done.progress.state, 'completed');
    assert.equal((await f.store.migrations('user_spend'))[0]!.state, 'completed');
    await assert.rejects(f.store.push('user_spend', spendRows(1, { entities: 1 }), { version: 1 }), /retired by its migration to version 2/);
    assert.equal((await f.registry.commits('user_spend', 1)).length, 5, 'the old offline data is kept');
    assert.equal((await f.store.verifyInProcess(['user_spend']))[0]!.ok, true);
  });

  test('the worker killed in the middle of the backfill: the migration resumes from its heartbeat and completes; started twice, it is one workflow', async () => {
    const f = await pipelineFixture('mig_kill');
    await f.registry.apply(repo([spendV1()], {}));
    const first = await f.startWorker();
    for (let b = 0; b < 3; b++) await f.store.push('user_spend', spendRows(1000, { entities: 500, salt: b }), { batchId: `b${b}` });
    await first.kill('SIGTERM');
    await f.registry.apply(repo([spendV1(), spendV2], {}));

    const doomed = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-backfill', GRANARY_LOG_LEVEL: 'INFO' });
    const [a, b] = await Promise.all([
      f.store.migrate('user_spend', { to: 2, graceSeconds: 1 }),
      f.store.migrate('user_spend', { to: 2, graceSeconds: 1 }),
    ]);
    assert.equal(a.workflowId, b.workflowId);
    assert.equal(a.runId, b.runId, 'the second start attached to the first run');
    // The first commit is rewritten; the failpoint kills the worker once that is heartbeated. A
    // second worker starts meanwhile (it takes over the retried activity; the doomed one is busy).
    await eventually(async () => assert.match(doomed.output(), /commit \d+ -> \d+ \(1000 rows\)/), 30_000);
    const rescuer = await f.startWorker({ GRANARY_LOG_LEVEL: 'INFO' });
    assert.equal(await doomed.exited, 'SIGKILL', doomed.output());
    assert.match(doomed.output(), /failpoint 'mid-backfill' reached/);

    const done = await f.store.followMigration('user_spend', { to: 2, wait: 'done' });
    assert.equal(done.progress.state, 'completed', JSON.stringify(done.progress));
    assert.match(rescuer.output(), /resuming after commit \d+ \(from the last heartbeat\)/);
    const v1 = await f.registry.commits('user_spend', 1);
    const v2 = await f.registry.commits('user_spend', 2);
    assert.equal(v2.length, 3, 'every old commit copied once');
    assert.equal(v2.reduce((n, c) => n + c.objects.reduce((m, o) => m + o.rowCount, 0), 0), 3000);
    assert.deepEqual(done.progress.verify?.sourceRows, 3000);
    assert.equal(v1.length, 3);
    const [report] = await f.store.verifyInProcess(['user_spend']);
    assert.equal(report!.version, 2);
    assert.equal(report!.ok, true, report!.examples.join('\n'));
    assert.equal(report!.missing + report!.stale + report!.extra, 0);
    assert.equal(report!.matching, 500);
  });

  test('a value that does not convert stops the migration, naming the object, row and value; the old version keeps serving', async () => {
    const f = await pipelineFixture('mig_bad');
    await f.registry.apply(repo([spendV1()]));
    await f.startWorker();
    await f.store.push('user_spend', spendRows(100, { entities: 100 }), { batchId: 'good' });
    await f.store.push('user_spend', spendRows(100, { entities: 100, salt: 1, bad: 41 }), { batchId: 'bad' });
    await f.registry.apply(repo([spendV1(), spendV2]));

    await assert.rejects(
      f.store.migrate('user_spend', { wait: 'switched', graceSeconds: 1 }),
      (error: Error) => {
        assert.match(error.message, /object '[^']+\/user_spend\/v1\/date=[\d-]+\/bad\.part-\d+\.parquet', row \d+, column 'txn_count_7d': value 2\.5 does not convert from float32 to int64/);
        return true;
      },
    );
    const [record] = await f.store.migrations('user_spend');
    assert.equal(record!.state, 'failed');
    assert.match(record!.message ?? '', /value 2\.5/);
    assert.equal((await f.registry.getObject('featureView', 'user_spend'))!.version, 1);
    assert.equal((await f.registry.getObject('featureView', 'user_spend', 2))!.status, 'migrating');
    const read = await f.store.getOnlineFeatures({ featureService: 'spend_model_latest', entityRows: entityRows(5) });
    assert.deepEqual(read.featureNames, ['spend_7d_avg', 'txn_count_7d']);
    assert.ok(read.rows.every((r) => r.statuses.every((s) => s === 'PRESENT')));
  });
});
