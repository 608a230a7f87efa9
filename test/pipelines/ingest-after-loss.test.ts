import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { sleep } from '../../scripts/worker-process.ts';

/**
 * Issue 12, 6b: an ingest reports the online state Redis really has. After Redis came back
 * empty (the registry kept its commits and watermarks), ingesting a committed batch again must
 * not answer "materialized": it checks the generation marker first, says Redis lost the data,
 * and (online.onRedisLoss: rebuild) starts the rebuild.
 */
async function fixtureOnPrivateRedis(name: string, env: Record<string, string> = {}) {
  const redis = await startPrivateRedis();
  const f = await pipelineFixture(name, { GRANARY_REDIS_URL: redis.url, ...env });
  return { ...f, redis };
}

async function workflowStatus(client: Client, workflowId: string): Promise<string | null> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

test('a committed batch ingested again after Redis came back empty: not materialized, Redis lost its data, the rebuild starts; once rebuilt it is online', async (t) => {
  const f = await fixtureOnPrivateRedis('ingest_after_loss');
  t.after(() => f.redis.dispose());
  await f.startWorker();
  const rows = driverRows(2000, { entities: 1000 });
  const first = await f.store.push('driver_stats', rows, { batchId: 'b1' });
  assert.equal(first.materialized, true);

  await f.redis.kill(); // a crash: no save, it comes back empty (as the stack did before it saved on stop)
  await f.redis.start();
  const again = await f.store.push('driver_stats', rows, { batchId: 'b1' });
  assert.equal(again.created, false, 'the batch was committed before: nothing written again');
  assert.equal(again.materialized, false, JSON.stringify(again));
  assert.match(again.reason ?? '', new RegExp(`online generation 1 of feature view 'driver_stats' version 1 is gone from Redis .*commits up to ${first.seq} .*Redis lost its data; rebuild started`));

  const client = await f.store.temporal();
  const rebuild = client.workflow.getHandle(workflowIds.rebuild(f.ref));
  assert.ok(['RUNNING', 'COMPLETED'].includes((await rebuild.describe()).status.name), 'the ingest started the rebuild');
  for (const deadline = Date.now() + 120_000; (await f.registry.activeGeneration('driver_stats', 1)).generation !== 2; await sleep(200)) {
    if (Date.now() > deadline) throw new Error('the rebuild did not cut over within 2 minutes');
  }
  const rebuilt = await f.store.push('driver_stats', rows, { batchId: 'b1' });
  assert.deepEqual([rebuilt.created, rebuilt.materialized], [false, true], 'online again, in the rebuilt generation');
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.deepEqual([report!.generation, report!.matching], [2, 1000]);
});

test('with onRedisLoss: fail, the same answers not materialized and starts nothing; a fresh ingest run (history gone) says so too', async (t) => {
  const f = await fixtureOnPrivateRedis('ingest_after_loss_fail', { GRANARY_ON_REDIS_LOSS: 'fail' });
  t.after(() => f.redis.dispose());
  await f.startWorker();
  const rows = driverRows(500, { entities: 500 });
  const first = await f.store.push('driver_stats', rows, { batchId: 'b1' });
  assert.equal(first.materialized, true);

  await f.redis.kill();
  await f.redis.start();
  const again = await f.store.push('driver_stats', rows, { batchId: 'b1' });
  assert.deepEqual([again.created, again.materialized], [false, false]);
  assert.match(again.reason ?? '', /Redis lost its data; not rebuilding \(online\.onRedisLoss: fail\): run granary rebuild-online driver_stats/);
  const client = await f.store.temporal();
  assert.equal(await workflowStatus(client, workflowIds.rebuild(f.ref)), null, 'no rebuild was started');

  // The finished ingestion is gone from Temporal (as after the namespace's retention period): a
  // new run commits nothing new and must not take the watermark's word for it either.
  const ingestId = workflowIds.ingest(f.ref, 'b1');
  await client.workflowService.deleteWorkflowExecution({ namespace: f.config.temporal.namespace, workflowExecution: { workflowId: ingestId } });
  for (const deadline = Date.now() + 120_000; (await workflowStatus(client, ingestId)) !== null; await sleep(200)) {
    if (Date.now() > deadline) throw new Error('the ingestion workflow was not deleted');
  }
  const fresh = await f.store.push('driver_stats', rows, { batchId: 'b1' });
  assert.deepEqual([fresh.created, fresh.materialized], [false, false], JSON.stringify(fresh));
  assert.match(fresh.reason ?? '', new RegExp(`has no marker in Redis although commits up to ${first.seq} were materialized: Redis lost its data`));
  assert.equal(await workflowStatus(client, workflowIds.rebuild(f.ref)), null, 'still no rebuild');
});
