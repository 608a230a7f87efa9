import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { clusterNodeDir, livePid } from '../../scripts/stack/redis-topology.ts';
import { sleep } from '../../scripts/worker-process.ts';
import { driverRows } from '../support/driver-stats.ts';
import { clusterFixture, clusterServer, masterAndReplica, pollServing } from '../support/cluster-fixture.ts';
import { replicaCaughtUp } from '../support/replica-caught-up.ts';

/**
 * Issue 15 item 5: SIGKILL of a Redis Cluster master while serving and materializing. Replication
 * is asynchronous, so a promoted replica may miss what its master acknowledged last; each bucket's
 * marker is raised after the bucket's rows on the same node, so the promoted replica's buckets
 * read behind the watermark and the next materialization applies the missing commits again.
 * Serving answers fast 503s for the dead master's slots, then recovers on its own once the
 * replica is promoted. Each case ends on the invariant: online equals offline.
 */
test('Cluster: a master SIGKILLed while serving and materializing, its replica frozen so it missed acknowledged writes: fast 503s, serving recovers on its own, the lost commit is applied again, verify at zero divergence', { timeout: 240_000 }, async (t) => {
  const f = await clusterFixture('cluster_failover');
  t.after(() => f.cluster.dispose());
  await f.startWorker();
  const first = await f.store.push('driver_stats', driverRows(2000, { entities: 1000 }), { batchId: 'b1' });
  assert.equal(first.materialized, true);

  const server = await clusterServer(t, f);
  const poll = pollServing(t, server.url, server.headers, 100);
  await sleep(300);

  const { master, replica } = await masterAndReplica(f.cluster);
  await replicaCaughtUp({ host: '127.0.0.1', port: master }, replica);
  // The replica is frozen (SIGSTOP) and the master drops its link (CLIENT KILL), so it cannot
  // resync: what the master acknowledges now lives on the master alone; then the master dies.
  const replicaPid = livePid(clusterNodeDir(f.cluster.spec, replica));
  assert.ok(replicaPid, `no live replica process on ${replica}`);
  process.kill(replicaPid, 'SIGSTOP');
  let second;
  let killedAt = 0;
  try {
    const admin = new Redis(master, '127.0.0.1');
    await admin.client('KILL', 'TYPE', 'replica').finally(() => admin.disconnect());
    second = await f.store.push('driver_stats', driverRows(1000, { entities: 1000, now: Date.now() + 600_000, salt: 1 }), { batchId: 'b2' });
    assert.equal(second.materialized, true, JSON.stringify(second));
    killedAt = performance.now();
    await f.cluster.kill(master);
  } finally {
    process.kill(replicaPid, 'SIGCONT');
  }
  const killedToWait = performance.now() - killedAt;
  const promotion = await f.cluster.waitForPromotion(master);
  assert.equal(promotion.port, replica);

  // Serving recovers without a restart: wait for 2 s of 200s in a row.
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    const recent = poll.answers.filter((a) => a.at > performance.now() - 2000);
    if (recent.length >= 10 && recent.every((a) => a.status === 200)) break;
    assert.ok(Date.now() < deadline, `serving did not recover: ${JSON.stringify(poll.answers.slice(-5))}`);
  }
  await poll.stop();
  const afterKill = poll.answers.filter((a) => a.at >= killedAt);
  const failed = afterKill.filter((a) => a.status !== 200);
  const lastFailed = failed.at(-1);
  const outageSeconds = lastFailed ? (lastFailed.at + lastFailed.ms - killedAt) / 1000 : 0;
  const slowest = Math.max(...failed.map((a) => a.ms), 0);
  const message = `serving outage after SIGKILL of a master: ${outageSeconds.toFixed(2)} s (promotion seen ${((promotion.ms + killedToWait) / 1000).toFixed(2)} s after the kill); ${failed.length} failed answers, all ${[...new Set(failed.map((a) => a.status))].join('/') || '-'}, the slowest in ${Math.round(slowest)} ms`;
  t.diagnostic(message);
  console.log(message);
  assert.ok(failed.length > 0, 'the dead master\'s slots were unavailable for a while');
  assert.ok(failed.every((a) => a.status === 503), `failures are 503s: ${JSON.stringify(failed.slice(0, 5))}`);
  assert.ok(slowest < 450, `503s are fast, never the 500 ms deadline: the slowest took ${Math.round(slowest)} ms`);
  assert.ok(outageSeconds < (promotion.ms + killedToWait) / 1000 + 2.5, `serving recovered soon after the promotion: ${message}`);
  assert.ok(poll.answers.filter((a) => a.at < killedAt).every((a) => a.status === 200), 'before the kill every read was served');

  // The promoted replica missed commit b2 on its slots: its buckets read behind.
  const [behind] = await f.store.status(['driver_stats']);
  assert.deepEqual([behind!.online, behind!.onlineApplied, behind!.watermark], ['behind', first.seq, second!.seq], JSON.stringify(behind));
  const [stale] = await f.store.verifyInProcess(['driver_stats']);
  assert.ok(stale!.stale > 0, `verify sees the rows the replica missed: ${JSON.stringify({ stale: stale!.stale, missing: stale!.missing })}`);

  // The next commit (other entities) makes the materialization resume from the lowest bucket: b2 is applied again.
  const third = await f.store.push('driver_stats', driverRows(200, { entities: 200, now: Date.now() + 1_200_000, salt: 2 }).map((r) => ({ ...r, driver_id: r.driver_id + 5000n })), { batchId: 'b3' });
  assert.equal(third.materialized, true, JSON.stringify(third));
  const [status] = await f.store.status(['driver_stats']);
  assert.deepEqual([status!.online, status!.onlineApplied], ['ok', third.seq]);
  const [report] = await f.store.verify(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, 1200);
});

test('Cluster: a master SIGKILLed during a rebuild and a materialization: both carry on once its replica is promoted, the rebuild cuts over, verify at zero divergence', { timeout: 240_000 }, async (t) => {
  const f = await clusterFixture('cluster_failover_rebuild');
  t.after(() => f.cluster.dispose());
  await f.startWorker();
  const first = await f.store.push('driver_stats', driverRows(24_000, { entities: 12_000 }), { batchId: 'b1' });
  assert.equal(first.materialized, true);
  await f.store.rebuildOnline(['driver_stats'], { partitions: 8, parallelism: 1, retireAfterSeconds: 0 });
  const { master } = await masterAndReplica(f.cluster);
  // Once the build has begun: the rebuild's generation has some rows.
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    const generations = await f.registry.generations('driver_stats', 1);
    if (generations.some((g) => g.generation === 2)) break;
    assert.ok(Date.now() < deadline, 'the rebuild did not begin');
  }
  await f.cluster.kill(master);
  const during = f.store.push('driver_stats', driverRows(500, { entities: 500, now: Date.now() + 600_000, salt: 1 }), { batchId: 'b2' });
  const promotion = await f.cluster.waitForPromotion(master);
  t.diagnostic(`promotion after ${promotion.ms} ms`);
  const second = await during;
  assert.equal(second.materialized, true, JSON.stringify(second));
  const [done] = await f.store.rebuildOnline(['driver_stats'], { wait: true });
  assert.equal(done!.progress.state, 'done', JSON.stringify(done!.progress));
  const [report] = await f.store.verify(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  // Generation 2, or 3 when the failover was seen as a loss after the build was sealed (a rebuild
  // requested then gets a build of its own); either way the active one equals the offline store.
  assert.ok(report!.generation === 2 || report!.generation === 3, `generation ${report!.generation}`);
  assert.deepEqual([report!.matching, report!.watermark], [12_000, second.seq]);
});
