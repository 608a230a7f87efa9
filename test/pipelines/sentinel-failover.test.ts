import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedisSentinel } from '../../scripts/private-services.ts';
import { livePid, sentinelDataDir } from '../../scripts/stack/redis-topology.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { replicaCaughtUp } from '../support/replica-caught-up.ts';

/**
 * Issue 15: the online store on Redis Sentinel (online.sentinels), through a real failover.
 * Replication is asynchronous, so a promoted replica may miss what the master acknowledged last;
 * Granary's generation marker is written after the rows on the same stream, so the replica's
 * marker says how far it got: `granary status` reads BEHIND and the next materialization applies
 * the missing commits again. Each case ends on the invariant: online equals offline.
 */
async function sentinelFixture(t: TestContext, name: string) {
  const sentinel = await startPrivateRedisSentinel();
  t.after(() => sentinel.dispose());
  const f = await pipelineFixture(name, {
    GRANARY_REDIS_SENTINELS: sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
    GRANARY_REDIS_SENTINEL_MASTER: sentinel.name,
  });
  await f.startWorker();
  // A first commit of 1000 entities, materialized and on both data nodes.
  const first = await f.store.push('driver_stats', driverRows(2000, { entities: 1000 }), { batchId: 'b1' });
  assert.equal(first.materialized, true);
  const master = await sentinel.master();
  const replica = sentinel.dataPorts.find((p) => p !== master.port)!;
  await replicaCaughtUp(master, replica);
  return { ...f, sentinel, first, master, replica };
}

test('Sentinel failover with every write replicated: ingest and serving go on against the promoted replica, and online equals offline', async (t) => {
  const f = await sentinelFixture(t, 'sentinel_failover');
  const { master, replica } = f;

  await f.sentinel.kill(master.port);
  const promotion = await f.sentinel.waitForPromotion(master.port);
  assert.equal(promotion.port, replica);

  const second = await f.store.push('driver_stats', driverRows(1000, { entities: 1000, now: Date.now() + 600_000, salt: 1 }), { batchId: 'b2' });
  assert.equal(second.materialized, true, JSON.stringify(second));
  const [status] = await f.store.status(['driver_stats']);
  assert.deepEqual([status!.online, status!.onlineApplied], ['ok', second.seq]);
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, 1000);
  const served = await f.store.getOnlineFeatures({ features: ['driver_stats:trips'], entityRows: [{ driver_id: 7n }] });
  const text = JSON.stringify(served, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  assert.equal(text.includes('NOT_FOUND'), false, text);
});

test('Sentinel failover that lost acknowledged writes: the promoted replica reads BEHIND, the next materialization applies the lost commit again, and online equals offline', async (t) => {
  const f = await sentinelFixture(t, 'sentinel_failover_lost');
  const { first, master, replica } = f;

  // The replica is frozen (SIGSTOP) and the master drops its link (CLIENT KILL), so it cannot
  // reconnect and resync: what the master acknowledges now lives on the master alone; then the master dies.
  const replicaPid = livePid(sentinelDataDir(f.sentinel.spec, replica));
  assert.ok(replicaPid, `no live replica process on ${replica}`);
  process.kill(replicaPid, 'SIGSTOP');
  let second;
  try {
    const admin = new Redis(master.port, master.host);
    await admin.client('KILL', 'TYPE', 'replica').finally(() => admin.disconnect());
    second = await f.store.push('driver_stats', driverRows(1000, { entities: 1000, now: Date.now() + 600_000, salt: 1 }), { batchId: 'b2' });
    assert.equal(second.materialized, true, JSON.stringify(second));
    await f.sentinel.kill(master.port);
  } finally {
    process.kill(replicaPid, 'SIGCONT');
  }
  const promotion = await f.sentinel.waitForPromotion(master.port);
  assert.equal(promotion.port, replica);

  const [behind] = await f.store.status(['driver_stats']);
  assert.deepEqual([behind!.online, behind!.onlineApplied, behind!.watermark], ['behind', first.seq, second.seq], JSON.stringify(behind));

  // The next commit (other entities) makes the materialization resume from the replica's marker: commit b2 is applied again.
  const third = await f.store.push('driver_stats', driverRows(200, { entities: 200, now: Date.now() + 1_200_000, salt: 2 }).map((r) => ({ ...r, driver_id: r.driver_id + 5000n })), { batchId: 'b3' });
  assert.equal(third.materialized, true, JSON.stringify(third));
  const [status] = await f.store.status(['driver_stats']);
  assert.deepEqual([status!.online, status!.onlineApplied], ['ok', third.seq]);
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, 1200);
});
