import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateMinio, startPrivatePostgres, startPrivateRedis } from '../../scripts/private-services.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { sleep } from '../../scripts/worker-process.ts';

/**
 * The services under Granary fail for real (issue 3): Redis killed and restarted (from an older
 * snapshot, and empty), MinIO stopped during an ingest, PostgreSQL restarted during a
 * materialization. Each test ends with verify: online equals offline, and every committed row
 * is accounted for exactly once.
 */
type Fixture = Awaited<ReturnType<typeof pipelineFixture>>;

async function accountedFor(f: Fixture, rows: number, commits: number) {
  const all = await f.registry.commits('driver_stats', 1);
  assert.equal(all.length, commits, 'one commit per batch, whatever the retries');
  assert.equal(all.reduce((n, c) => n + c.objects.reduce((m, o) => m + o.rowCount, 0), 0), rows, 'every row committed once');
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.watermark, all[all.length - 1]!.seq, 'every commit is online');
  return report!;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

test('Redis killed during a materialization and restarted from an older snapshot: the lost commits are applied again', async (t) => {
  const redis = await startPrivateRedis();
  const raw = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  raw.on('error', () => undefined);
  t.after(async () => {
    raw.disconnect();
    await redis.dispose();
  });
  const f = await pipelineFixture('outage_redis_snapshot', { GRANARY_REDIS_URL: redis.url });
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(4000, { entities: 4000 }), { batchId: 'b1' });
  await raw.save(); // the snapshot Redis will come back from: b1 only

  // b2 is materialized, then Redis dies and comes back from the snapshot: b2's rows are gone,
  // yet the registry's watermark says b2 is online.
  await f.store.push('driver_stats', driverRows(4000, { entities: 4000, salt: 11, now: Date.now() + 60_000 }), { batchId: 'b2' });
  await redis.kill();
  await redis.start();
  const [rolledBack] = await f.store.verifyInProcess(['driver_stats']);
  assert.ok(rolledBack!.stale > 0, 'after the restart Redis holds b1 rows where b2 rows were');

  // b3 arrives while a long apply is under way: Redis is killed mid-apply and comes back from the same snapshot.
  const pushed = f.store.push('driver_stats', driverRows(60_000, { entities: 20_000, salt: 5, now: Date.now() + 120_000 }), { batchId: 'b3' });
  pushed.catch(() => undefined);
  await until('b3 is committed', async () => (await f.registry.commits('driver_stats', 1)).length === 3);
  await until('b3 rows reach Redis', async () => (await raw.dbsize().catch(() => 0)) > 5000);
  await redis.kill();
  await sleep(1500);
  await redis.start();
  await pushed;
  await accountedFor(f, 68_000, 3);
});

test('Redis killed during a materialization and restarted empty: the loss is detected and the view rebuilt, never trusted', async (t) => {
  const redis = await startPrivateRedis();
  t.after(() => redis.dispose());
  const f = await pipelineFixture('outage_redis_empty', { GRANARY_REDIS_URL: redis.url });
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(4000, { entities: 4000 }), { batchId: 'b1' });
  const pushed = f.store.push('driver_stats', driverRows(60_000, { entities: 20_000, salt: 5 }), { batchId: 'b2' });
  pushed.catch(() => undefined);
  await until('b2 is committed', async () => (await f.registry.commits('driver_stats', 1)).length === 2);
  await redis.kill(); // no persistence: it comes back empty
  await redis.start();
  const result = await pushed;
  assert.equal(result.materialized, true, 'the ingest completes once the rebuilt generation holds its commit');
  const client = await f.store.temporal();
  const rebuild = await client.workflow.getHandle(workflowIds.rebuild(f.ref)).describe();
  assert.ok(['RUNNING', 'COMPLETED'].includes(rebuild.status.name), `materialization started the rebuild (${rebuild.status.name})`);
  const report = await accountedFor(f, 64_000, 2);
  assert.equal(report.generation, 2, 'served from the rebuilt generation');
});

test('MinIO stopped during an ingest, then back: the ingest completes once, nothing lost', async (t) => {
  const minio = await startPrivateMinio();
  t.after(() => minio.dispose());
  const f = await pipelineFixture('outage_minio', {
    GRANARY_S3_ENDPOINT: minio.endpoint,
    GRANARY_S3_ACCESS_KEY_ID: minio.accessKeyId,
    GRANARY_S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
    GRANARY_OFFLINE_URL: `s3://${minio.bucket}/outage`,
  });
  // No worker yet: the batch is staged and the workflow waits; then MinIO goes away.
  const pushed = f.store.push('driver_stats', driverRows(20_000, { entities: 5000 }), { batchId: 'b1' });
  pushed.catch(() => undefined);
  const client = await f.store.temporal();
  await until('the ingestion workflow runs', () =>
    client.workflow.getHandle(workflowIds.ingest(f.ref, 'b1')).describe().then(() => true, () => false),
  );
  await minio.stop();
  const worker = await f.startWorker();
  await sleep(4000); // the offline write fails and is retried meanwhile
  assert.deepEqual(await f.registry.commits('driver_stats', 1), [], 'nothing is committed while S3 is down');
  await minio.start();
  const result = await pushed;
  assert.equal(result.materialized, true);
  assert.equal(worker.child.exitCode, null, 'the worker survived the outage');
  const report = await accountedFor(f, 20_000, 1);
  assert.equal(report.matching, 5000);
});

test('PostgreSQL restarted during a materialization: the registry calls are retried and the watermark lands exactly', async (t) => {
  const postgres = await startPrivatePostgres();
  t.after(() => postgres.dispose());
  const redis = await startPrivateRedis();
  t.after(() => redis.dispose());
  const f = await pipelineFixture('outage_postgres', { GRANARY_POSTGRES_URL: postgres.url, GRANARY_REDIS_URL: redis.url });
  const worker = await f.startWorker();
  const raw = new Redis(redis.url);
  t.after(() => raw.disconnect());
  const pushed = f.store.push('driver_stats', driverRows(100_000, { entities: 20_000 }), { batchId: 'b1' });
  pushed.catch(() => undefined);
  await until('b1 rows reach Redis', async () => (await raw.dbsize()) > 1000);
  await postgres.stop();
  const applied = await raw.hget((await raw.keys('*:marker'))[0]!, 'applied');
  assert.equal(applied, null, 'PostgreSQL went down before the commit was fully applied');
  await sleep(3000);
  await postgres.start();
  const result = await pushed;
  assert.equal(result.materialized, true);
  assert.equal(worker.child.exitCode, null, 'the worker survived the restart');
  const report = await accountedFor(f, 100_000, 1);
  assert.equal(report.matching, 20_000);
});
