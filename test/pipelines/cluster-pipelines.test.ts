import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Cluster } from 'ioredis';
import { startPrivateRedisCluster } from '../../scripts/private-services.ts';
import { hashSlot } from '../../stores/online/hash-slot.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { keysPerMaster as keysOnMasters } from '../support/keys-per-master.ts';

/**
 * Issue 15 item 4: the pipelines on a real Redis Cluster (a private one: 3 masters, 3 replicas),
 * online.url = redis+cluster://<seed nodes>. Materialize, the partitioned verify (`granary
 * verify`), a rebuild with its verify and cut-over, the retired generation dropped on every
 * master, and a Redis fault (one master's data lost) found by its bucket markers and applied again.
 */
const cluster = await startPrivateRedisCluster({ log: () => undefined });
after(() => cluster.dispose());
const clusterUrl = `redis+cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
const raw = new Cluster([...cluster.nodes], { scaleReads: 'master' });
raw.on('error', () => undefined);
after(() => raw.disconnect());

/** Keys matching a pattern, per master. */
function keysPerMaster(pattern: string): Promise<number[]> {
  return keysOnMasters(raw, pattern);
}

test('Cluster: materialize, verify on the workers, rebuild (verify, cut-over, old generation dropped on every master): online equals offline', async () => {
  const f = await pipelineFixture('cluster_pipelines', { GRANARY_REDIS_URL: clusterUrl });
  await f.startWorker();
  const first = await f.store.push('driver_stats', driverRows(6000, { entities: 3000 }), { batchId: 'b1' });
  assert.equal(first.materialized, true, JSON.stringify(first));
  const second = await f.store.push('driver_stats', driverRows(2000, { entities: 2000, now: Date.now() + 60_000, salt: 1 }), { batchId: 'b2' });
  assert.equal(second.materialized, true, JSON.stringify(second));
  const prefix = f.config.online.keyPrefix;
  const perMaster = await keysPerMaster(`${prefix}:{*`);
  assert.equal(perMaster.reduce((a, b) => a + b, 0), 3000);
  assert.ok(perMaster.every((n) => n > 500), `rows on every master: ${perMaster}`);

  const [status] = await f.store.status(['driver_stats']);
  assert.deepEqual([status!.online, status!.onlineApplied], ['ok', second.seq]);
  const [verified] = await f.store.verify(['driver_stats']);
  assert.equal(verified!.ok, true, verified!.examples.join('\n'));
  assert.equal(verified!.matching, 3000);

  const [rebuilt] = await f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 4, retireAfterSeconds: 0 });
  assert.equal(rebuilt!.progress.state, 'done', JSON.stringify(rebuilt!.progress));
  assert.equal(rebuilt!.progress.generation, 2);
  assert.equal(rebuilt!.progress.entitiesWritten, 3000);
  const generations = await f.registry.generations('driver_stats', 1);
  assert.deepEqual(generations.map((g) => [g.generation, g.state]), [[2, 'active'], [1, 'dropped']]);
  assert.deepEqual(await keysPerMaster(`${prefix}:*g1:*`), [0, 0, 0], 'no key of generation 1 left on any master, bucket markers included');
  assert.deepEqual(await keysPerMaster(`${prefix}:marker{*g2:*`).then((n) => n.reduce((a, b) => a + b, 0)), 256);

  const [after] = await f.store.verify(['driver_stats']);
  assert.equal(after!.ok, true, after!.examples.join('\n'));
  assert.deepEqual([after!.generation, after!.matching], [2, 3000]);
  const served = await f.store.getOnlineFeatures({ features: ['driver_stats:trips'], entityRows: [{ driver_id: 7n }, { driver_id: 2999n }] });
  const text = JSON.stringify(served, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  assert.equal(text.includes('NOT_FOUND'), false, text);
});

test('Cluster fault: one master loses its data (FLUSHALL on it): its buckets read behind, the next materialization applies every commit again, verify at zero divergence', async () => {
  const f = await pipelineFixture('cluster_fault', { GRANARY_REDIS_URL: clusterUrl });
  await f.startWorker();
  const first = await f.store.push('driver_stats', driverRows(2000, { entities: 1000 }), { batchId: 'b1' });
  assert.equal(first.materialized, true);
  // The master that does not hold the generation marker: only its rows and bucket markers go.
  const markerKey = `${f.config.online.keyPrefix}:${f.config.project}:driver_stats:v1:g1:marker`;
  const holder = raw.slots[hashSlot(markerKey)]![0];
  const victim = raw.nodes('master').find((node) => `${node.options.host}:${node.options.port}` !== holder)!;
  await victim.flushall();

  const [behind] = await f.store.status(['driver_stats']);
  assert.deepEqual([behind!.online, behind!.onlineApplied], ['behind', 0], JSON.stringify(behind));
  const [lost] = await f.store.verifyInProcess(['driver_stats']);
  assert.ok(lost!.missing > 100, `verify sees the lost rows: ${lost!.missing}`);

  const second = await f.store.push('driver_stats', driverRows(200, { entities: 200, now: Date.now() + 60_000, salt: 2 }).map((r) => ({ ...r, driver_id: r.driver_id + 5000n })), { batchId: 'b2' });
  assert.equal(second.materialized, true, JSON.stringify(second));
  const [status] = await f.store.status(['driver_stats']);
  assert.deepEqual([status!.online, status!.onlineApplied], ['ok', second.seq]);
  const [report] = await f.store.verify(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, 1200);
});
