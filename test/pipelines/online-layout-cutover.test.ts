import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import { onlineTarget } from '../../pipelines/registered-view.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { driverRows, driverStats } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';

/**
 * Online layout 2 (issue 15): a generation of layout 1 (one hash per entity) keeps serving and
 * being materialized by the old code until a rebuild builds a layout-2 generation and cuts over.
 */
test('a layout-1 generation serves and is materialized; the rebuild builds layout 2, cuts over, verify is clean', async (t) => {
  const redis = await startPrivateRedis();
  const raw = new Redis(redis.url);
  t.after(async () => {
    raw.disconnect();
    await redis.dispose();
  });
  const f = await pipelineFixture('layout_cutover', { GRANARY_REDIS_URL: redis.url });
  const { generation } = await f.registry.activeGeneration('driver_stats', 1);
  // Generation 1 as an earlier Granary marked it: layout 1 (no layout field in its marker).
  const old = new RedisOnlineStore({ url: redis.url, keyPrefix: f.config.online.keyPrefix, newGenerationLayout: 1 });
  await old.markGeneration(onlineTarget(f.ref, driverStats, generation));
  await old.close();

  await f.startWorker();
  const rows = driverRows(4000, { entities: 2000 });
  await f.store.push('driver_stats', rows.slice(0, 2000), { batchId: 'b1' });
  await f.store.push('driver_stats', rows.slice(2000), { batchId: 'b2' });
  const online = f.store.stores.online as RedisOnlineStore;
  const g1 = onlineTarget(f.ref, driverStats, generation);
  assert.equal((await online.generationLayout(g1)).version, 1);
  assert.equal(await raw.type(await online.rowKey(g1, [rows[0]!.driver_id as bigint])), 'hash', 'materialized in layout 1');
  const [before] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(before!.ok, true, before!.examples.join('\n'));
  assert.equal(before!.matching, 2000);
  const served = await f.store.getOnlineFeatures({ features: ['driver_stats:tier'], entityRows: [{ driver_id: rows[0]!.driver_id }] });
  assert.equal(served.rows[0]!.statuses[0], 'PRESENT');

  const [rebuilt] = await f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 2, retireAfterSeconds: 0 });
  assert.equal(rebuilt!.progress.state, 'done');
  const g2 = onlineTarget(f.ref, driverStats, rebuilt!.progress.generation);
  assert.deepEqual(await online.generationLayout(g2), { version: 2, buckets: 256, features: driverStats.features.map((x) => ({ name: x.name, type: x.type })) });
  assert.equal(await raw.type(await online.rowKey(g2, [rows[0]!.driver_id as bigint])), 'string', 'rebuilt in layout 2');
  const [after] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(after!.ok, true, after!.examples.join('\n'));
  assert.equal(after!.generation, g2.generation);
  assert.equal(after!.matching, 2000);
  assert.deepEqual((await f.store.getOnlineFeatures({ features: ['driver_stats:tier'], entityRows: [{ driver_id: rows[0]!.driver_id }] })).rows[0]!.values, served.rows[0]!.values);
  // Layout 1's keys are gone with its generation; materialization goes on in layout 2.
  assert.equal((await raw.keys(`${f.config.online.keyPrefix}:*:g${generation}:*`)).length, 0);
  await f.store.push('driver_stats', driverRows(10, { entities: 10 }), { batchId: 'b3' });
  const [last] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(last!.ok, true, last!.examples.join('\n'));
  assert.equal(last!.watermark, last!.latestSeq);
});
