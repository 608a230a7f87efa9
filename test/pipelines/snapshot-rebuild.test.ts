import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onlineTarget } from '../../pipelines/registered-view.ts';
import { collectOfflineGarbage } from '../../sdk/offline-garbage.ts';
import { snapshotPrefix, snapshotRunKey } from '../../stores/offline/object-key.ts';
import type { OnlineRow } from '../../stores/online/online-store.ts';
import { driverRows, driverStats, type DriverRow } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { sleep } from '../../scripts/worker-process.ts';
import { workflowIds, type CompactResult } from '../../workflows/contracts.ts';
import { granary } from '../cli/cli-fixtures.ts';

/**
 * The compacted latest-value snapshot (issue 14 item 1): a compaction writes the newest row per
 * entity up to a commit seq, by partition; a rebuild with that partition count reads the
 * snapshot and only the commits after it, and must leave online exactly what a rebuild reading
 * every commit leaves (late rows, exact ties and newer rows after the snapshot included).
 */
type Fixture = Awaited<ReturnType<typeof pipelineFixture>>;

const ENTITIES = 3000;

async function verifyOk(f: Fixture, entities: number) {
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, entities);
  assert.equal(report!.watermark, report!.latestSeq, 'every commit is online');
  return report!;
}

async function onlineRows(f: Fixture, generation: number, entities: number): Promise<(OnlineRow | null)[]> {
  const entityKeys = Array.from({ length: entities }, (_, i) => [BigInt(i + 1)]);
  const [rows] = await f.store.stores.online.readRows([{ target: onlineTarget(f.ref, driverStats, generation), entityKeys }]);
  return rows!;
}

/** The newest row of each driver among `rows` (greatest event then created time; the first of exact ties). */
function newestOf(rows: readonly DriverRow[]): Map<bigint, DriverRow> {
  const newest = new Map<bigint, DriverRow>();
  for (const row of rows) {
    const held = newest.get(row.driver_id);
    const t = row.event_timestamp.getTime();
    const c = row.created_timestamp.getTime();
    if (!held || t > held.event_timestamp.getTime() || (t === held.event_timestamp.getTime() && c > held.created_timestamp.getTime())) newest.set(row.driver_id, row);
  }
  return newest;
}

/**
 * Rows after the snapshot: for drivers 1-100 a late row (an older event time: loses), 101-200 an
 * exact tie with the snapshot's row (other values: loses, the earlier commit's row stays), 201-300
 * a newer event time (wins), 301-400 the same event time and a later created time (wins), and
 * 100 new drivers.
 */
function laterRows(first: readonly DriverRow[]): DriverRow[] {
  const newest = newestOf(first);
  const variant = (id: number, eventDelta: number, createdDelta: number): DriverRow => {
    const held = newest.get(BigInt(id))!;
    return {
      ...held,
      event_timestamp: new Date(held.event_timestamp.getTime() + eventDelta),
      created_timestamp: new Date(held.created_timestamp.getTime() + createdDelta),
      trips: 900_000n + BigInt(id),
      tier: 'later',
    };
  };
  const rows: DriverRow[] = [];
  for (let id = 1; id <= 100; id++) rows.push(variant(id, -86_400_000, -86_400_000));
  for (let id = 101; id <= 200; id++) rows.push(variant(id, 0, 0));
  for (let id = 201; id <= 300; id++) rows.push(variant(id, 1000, 1000));
  for (let id = 301; id <= 400; id++) rows.push(variant(id, 0, 1));
  const fresh = driverRows(100, { salt: 5 }).map((r, i) => ({ ...r, driver_id: BigInt(ENTITIES + 1 + i) }));
  return [...rows, ...fresh];
}

test('a rebuild from a snapshot plus later commits (late rows, exact ties, newer rows) leaves online exactly what a rebuild of every commit leaves', async (t) => {
  const f = await pipelineFixture('snapshot_rebuild');
  await f.startWorker();
  const first = driverRows(2 * ENTITIES, { entities: ENTITIES });
  await f.store.push('driver_stats', first, { batchId: 'b1' });
  const seqBefore = await f.registry.latestCommitSeq('driver_stats', 1);

  const [compacted] = await f.store.compact(['driver_stats'], { partitions: 4 });
  assert.deepEqual(
    { seq: compacted!.seq, partitions: compacted!.partitions, baseSeq: compacted!.baseSeq, entities: compacted!.entities, rowsRead: compacted!.rowsRead, upToDate: compacted!.upToDate },
    { seq: seqBefore, partitions: 4, baseSeq: 0, entities: ENTITIES, rowsRead: 2 * ENTITIES, upToDate: false },
  );
  const snapshot = await f.registry.latestSnapshot('driver_stats', 1, { maxFutureSkewMs: f.config.ingest.maxFutureSkewMs });
  assert.equal(snapshot?.seq, seqBefore);
  assert.equal(snapshot.runs.reduce((a, b) => a + b, 0) >= 4, true, 'every partition holds entities');
  const runKeys: string[] = [];
  for await (const o of f.store.stores.offline.list(snapshot.prefix)) runKeys.push(`${o.key}@${o.lastModified.getTime()}`);

  await t.test('compacting again with nothing new is a no-op', async () => {
    const [again] = await f.store.compact(['driver_stats'], { partitions: 4 });
    assert.equal(again!.upToDate, true);
    assert.equal(again!.seq, seqBefore);
    const now: string[] = [];
    for await (const o of f.store.stores.offline.list(snapshot.prefix)) now.push(`${o.key}@${o.lastModified.getTime()}`);
    assert.deepEqual(now, runKeys, 'no run rewritten');
  });

  const later = laterRows(first);
  await f.store.push('driver_stats', later, { batchId: 'b2' });
  const upTo = await f.registry.latestCommitSeq('driver_stats', 1);
  await verifyOk(f, ENTITIES + 100);

  // Without partitions: the snapshot's (4) are taken, and only b2's rows are read from commits.
  const [fromSnapshot] = await f.store.rebuildOnline(['driver_stats'], { wait: true, retireAfterSeconds: 0 });
  const progress = fromSnapshot!.progress;
  assert.equal(progress.state, 'done');
  assert.equal(progress.snapshotSeq, seqBefore);
  assert.equal(progress.partitions, 4);
  assert.equal(progress.rowsRead, later.length, 'committed rows read: only those after the snapshot');
  assert.equal(progress.rowsCommitted, first.length + later.length);
  assert.equal(progress.entitiesWritten, ENTITIES + 100);
  assert.equal(progress.verifiedEntities, ENTITIES + 100, "the rebuild's own verify (snapshot + later runs) at zero divergence");
  const report = await verifyOk(f, ENTITIES + 100);
  assert.equal(report.generation, progress.generation);
  assert.equal(report.watermark, upTo);
  const withSnapshot = await onlineRows(f, progress.generation, ENTITIES + 100);

  // The tie (101-200) kept b1's row; the late rows (1-100) lost; 201-400 took b2's.
  const byId = (id: number) => withSnapshot[id - 1]!;
  assert.notEqual(byId(150).values.tier, 'later');
  assert.notEqual(byId(50).values.tier, 'later');
  assert.equal(byId(250).values.tier, 'later');
  assert.equal(byId(350).values.tier, 'later');

  // Another partition count: no snapshot of 3 partitions, so every commit is read.
  const [everyCommit] = await f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 3, retireAfterSeconds: 0 });
  assert.equal(everyCommit!.progress.snapshotSeq, undefined);
  assert.equal(everyCommit!.progress.rowsRead, first.length + later.length);
  await verifyOk(f, ENTITIES + 100);
  assert.deepEqual(await onlineRows(f, everyCommit!.progress.generation, ENTITIES + 100), withSnapshot, 'the same online state, entity by entity');
});

test('compaction is incremental and survives offline GC; a superseded snapshot is collected, the current one kept', async () => {
  const f = await pipelineFixture('snapshot_gc');
  await f.startWorker();
  const first = driverRows(2 * ENTITIES, { entities: ENTITIES });
  await f.store.push('driver_stats', first, { batchId: 'b1' });
  const [one] = await f.store.compact(['driver_stats'], { partitions: 2 });
  const later = laterRows(first);
  await f.store.push('driver_stats', later, { batchId: 'b2' });
  const [two] = await f.store.compact(['driver_stats']);
  assert.equal(two!.baseSeq, one!.seq, 'started from the first snapshot');
  assert.equal(two!.partitions, 2, "the first snapshot's partitions");
  assert.equal(two!.rowsRead, ENTITIES + later.length, "the first snapshot's rows plus the commit after it");
  assert.equal(two!.entities, ENTITIES + 100);

  const oldPrefix = snapshotPrefix(f.ref.project, 'driver_stats', 1, one!.seq, 2);
  const current = (await f.registry.latestSnapshot('driver_stats', 1, { maxFutureSkewMs: f.config.ingest.maxFutureSkewMs }))!;
  assert.equal(current.seq, two!.seq);
  const gc = await collectOfflineGarbage({ registry: f.registry, offline: f.store.stores.offline }, f.ref.project, { graceSeconds: 0, now: Date.now() + 1000 });
  assert.ok(gc.removed.some((k) => k.startsWith(oldPrefix)), `the superseded snapshot's runs are collected: ${gc.removed.join(', ')}`);
  assert.ok(!gc.removed.some((k) => k.startsWith(current.prefix)), 'the current snapshot is kept');

  const [rebuilt] = await f.store.rebuildOnline(['driver_stats'], { wait: true, retireAfterSeconds: 0 });
  assert.equal(rebuilt!.progress.snapshotSeq, two!.seq);
  assert.equal(rebuilt!.progress.rowsRead, 0, 'nothing committed after the snapshot');
  await verifyOk(f, ENTITIES + 100);

  // A run removed behind the registry's back (by hand, a bucket rule): the snapshot is marked unusable, the rebuild reads every commit.
  await f.store.stores.offline.delete(snapshotRunKey(current.prefix, 1, 0));
  const [fallback] = await f.store.rebuildOnline(['driver_stats'], { wait: true, retireAfterSeconds: 0 });
  assert.equal(fallback!.progress.snapshotSeq, undefined);
  assert.equal(fallback!.progress.rowsRead, first.length + later.length);
  assert.equal(await f.registry.latestSnapshot('driver_stats', 1, { maxFutureSkewMs: f.config.ingest.maxFutureSkewMs }), undefined, 'marked unusable');
  await verifyOk(f, ENTITIES + 100);
});

test('the worker killed (SIGKILL) mid-compaction: a new worker finishes it, the snapshot is recorded once and a rebuild from it is exact', async () => {
  const f = await pipelineFixture('snapshot_kill');
  const first = await f.startWorker();
  await f.store.push('driver_stats', driverRows(2 * ENTITIES, { entities: ENTITIES }), { batchId: 'b1' });
  await first.kill('SIGTERM');

  const doomed = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-compaction', GRANARY_LOG_LEVEL: 'INFO' });
  const compaction = f.store.compact(['driver_stats'], { partitions: 4, parallelism: 1 });
  assert.equal(await doomed.exited, 'SIGKILL', doomed.output());
  const seq = await f.registry.latestCommitSeq('driver_stats', 1);
  const prefix = snapshotPrefix(f.ref.project, 'driver_stats', 1, seq, 4);
  assert.equal(await f.store.stores.offline.exists(snapshotRunKey(prefix, 1, 0)), true, 'killed after writing partition 1');
  assert.equal(await f.registry.latestSnapshot('driver_stats', 1, { maxFutureSkewMs: f.config.ingest.maxFutureSkewMs }), undefined, 'not recorded before every partition is written');

  await f.startWorker({ GRANARY_LOG_LEVEL: 'INFO' });
  const [done] = await compaction;
  assert.equal(done!.entities, ENTITIES);
  assert.equal(done!.partitions, 4);
  const snapshots = (await f.registry.snapshots()).filter((s) => s.view === 'driver_stats');
  assert.equal(snapshots.length, 1);
  assert.equal(snapshots[0]!.entities, ENTITIES);
  let scratch = 0;
  for await (const _ of f.store.stores.offline.list(`${f.ref.project}/_compact-runs/`)) scratch++;
  assert.equal(scratch, 0, "the compaction's scratch is dropped");

  const [rebuilt] = await f.store.rebuildOnline(['driver_stats'], { wait: true, retireAfterSeconds: 0 });
  assert.equal(rebuilt!.progress.snapshotSeq, done!.seq);
  await verifyOk(f, ENTITIES);
});

test('a compaction schedule: a tick compacts the commits since the last snapshot', async () => {
  const f = await pipelineFixture('snapshot_schedule');
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(1000, { entities: 500 }), { batchId: 'b1' });
  assert.equal(await f.store.scheduleCompaction('driver_stats', { every: '1h', partitions: 2 }), 'created');
  assert.equal(await f.store.scheduleCompaction('driver_stats', { every: '2h', partitions: 2 }), 'updated');
  const schedule = (await f.store.temporal()).schedule.getHandle(workflowIds.compactSchedule(f.ref));
  try {
    await schedule.trigger();
    const seq = await f.registry.latestCommitSeq('driver_stats', 1);
    let snapshot;
    for (let i = 0; i < 300 && !snapshot; i++) {
      snapshot = await f.registry.latestSnapshot('driver_stats', 1, { maxFutureSkewMs: f.config.ingest.maxFutureSkewMs });
      if (!snapshot) await sleep(100);
    }
    assert.equal(snapshot?.seq, seq, 'the tick compacted up to the latest commit');
    assert.equal(snapshot.partitions, 2);
    assert.equal(snapshot.entities, 500);
  } finally {
    await schedule.delete();
  }

  // `granary compact`: the schedule's snapshot is at the latest commit, so nothing to do; after a commit, it compacts from it.
  const cli = (...args: string[]) => granary(['compact', 'driver_stats', ...args], { project: f.config.project, env: f.env });
  const upToDate = await cli('--json');
  assert.equal(upToDate.code, 0, upToDate.stderr);
  assert.equal((JSON.parse(upToDate.stdout) as CompactResult[])[0]!.upToDate, true);
  await f.store.push('driver_stats', driverRows(100, { entities: 50, salt: 9 }), { batchId: 'b2' });
  const compacted = await cli();
  assert.equal(compacted.code, 0, compacted.stderr);
  assert.match(compacted.stdout, /driver_stats v1\s+\d+\s+\d+\s+2\s+500\s+600\s+1100\s+compacted/);
});
