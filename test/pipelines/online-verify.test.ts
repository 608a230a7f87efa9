import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import type { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { onlineTarget } from '../../pipelines/registered-view.ts';
import type { VerifyReport } from '../../pipelines/verify-view.ts';
import { rebuildRunsPrefix } from '../../stores/offline/object-key.ts';
import { driverRows, driverStats } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';

/**
 * `granary verify` as the partitioned verify workflow (issue 14, item 3): slices scattered once
 * into entity-hash runs, one heartbeating verify activity per partition, a report summed with
 * Redis' key count. Each test checks it against the whole-view verify in the test's process.
 */
async function fixtureOnPrivateRedis(name: string) {
  const redis = await startPrivateRedis();
  const f = await pipelineFixture(name, { GRANARY_REDIS_URL: redis.url });
  const raw = new Redis(redis.url);
  return { ...f, redis, raw, async dispose() { raw.disconnect(); await redis.dispose(); } };
}

type Fixture = Awaited<ReturnType<typeof fixtureOnPrivateRedis>>;

/** The counts both verifies must agree on. */
function counts(r: VerifyReport) {
  const { generation, watermark, offlineEntities, onlineEntities, matching, expired, ahead, missing, stale, extra, refused, ok } = r;
  return { generation, watermark, offlineEntities, onlineEntities, matching, expired, ahead, missing, stale, extra, refused, ok };
}

async function scratchLeft(f: Fixture): Promise<number> {
  let n = 0;
  for await (const _ of f.store.stores.offline.list(rebuildRunsPrefix(f.ref.project, f.ref.view, f.ref.version, 1, 'verify'))) n++;
  return n;
}

function cli(f: Fixture, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/granary.mjs', ...args], { env: { ...process.env, ...f.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('granary verify runs partitioned on the workers: the same report as the whole-view verify, ok, and its scratch runs dropped', async (t) => {
  const f = await fixtureOnPrivateRedis('verify_ok');
  t.after(() => f.dispose());
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(6000, { entities: 3000 }), { batchId: 'b1' });
  await f.store.push('driver_stats', driverRows(4000, { entities: 2000, salt: 1 }), { batchId: 'b2' });

  const [partitioned] = await f.store.verify(['driver_stats'], { partitions: 3 });
  const [whole] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(partitioned!.ok, true, partitioned!.examples.join('\n'));
  assert.equal(partitioned!.matching, 3000);
  assert.deepEqual(counts(partitioned!), counts(whole!));
  assert.equal(await scratchLeft(f), 0, 'the verify scratch is dropped');

  const run = await cli(f, 'verify', 'driver_stats', '--partitions', '2', '--json');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(counts((JSON.parse(run.stdout) as VerifyReport[])[0]!), counts(whole!));
});

test('divergence found by partition: a deleted key is missing, a value no commit holds is stale, a never-committed entity is extra; exit code 1', async (t) => {
  const f = await fixtureOnPrivateRedis('verify_diverged');
  t.after(() => f.dispose());
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(6000, { entities: 3000 }), { batchId: 'b1' });
  const target = onlineTarget(f.ref, driverStats, 1);
  const online = f.store.stores.online;
  const [victim, tampered] = (await online.readRows([{ target, entityKeys: [[5n], [6n]] }]))[0]!;
  assert.ok(victim && tampered);
  assert.equal(await f.raw.del(await (online as RedisOnlineStore).rowKey(target, [5n])), 1);
  const later = tampered.eventTime + 1000;
  await online.writeRows(target, [{ ...tampered, values: { ...tampered.values, tier: 'tampered' }, eventTime: later, createdTime: later }]);

  let [report] = await f.store.verify(['driver_stats'], { partitions: 4 });
  assert.deepEqual([report!.ok, report!.missing, report!.stale, report!.extra, report!.matching], [false, 1, 1, 0, 2998]);
  assert.ok(report!.examples.some((e) => /^missing: entity 5 /.test(e)), report!.examples.join('\n'));
  assert.ok(report!.examples.some((e) => /^stale: entity 6 online /.test(e)), report!.examples.join('\n'));
  assert.deepEqual(counts(report!), counts((await f.store.verifyInProcess(['driver_stats']))[0]!));

  // An entity no commit holds: Redis has more keys than the partitions found.
  await online.writeRows(target, [{ ...tampered, entityKey: [999_999n] }]);
  [report] = await f.store.verify(['driver_stats'], { partitions: 4 });
  assert.deepEqual([report!.ok, report!.missing, report!.stale, report!.extra], [false, 1, 1, 1]);
  assert.deepEqual(counts(report!), counts((await f.store.verifyInProcess(['driver_stats']))[0]!));
  const run = await cli(f, 'verify', 'driver_stats');
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /DIVERGED/);
  assert.equal(await scratchLeft(f), 0);
});

test('a worker SIGKILLed mid-verify: its partition resumes on another worker after the entities already compared, and the report adds up to every entity once', async (t) => {
  const f = await fixtureOnPrivateRedis('verify_kill');
  t.after(() => f.dispose());
  const first = await f.startWorker();
  await f.store.push('driver_stats', driverRows(24_000, { entities: 12_000 }), { batchId: 'b1' });
  await first.kill('SIGTERM');

  const doomed = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-verify', GRANARY_LOG_LEVEL: 'INFO' });
  const verified = f.store.verify(['driver_stats'], { partitions: 4, parallelism: 1 });
  assert.equal(await doomed.exited, 'SIGKILL', doomed.output());
  const rescuer = await f.startWorker({ GRANARY_LOG_LEVEL: 'INFO' });
  const [report] = await verified;
  assert.match(rescuer.output(), /verify of 'driver_stats' v1 generation 1, partition 1\/4: resuming after entity 2000 \(from the last heartbeat\)/);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, 12_000, 'the counts carried over the kill add up to every entity once');
  assert.deepEqual(counts(report!), counts((await f.store.verifyInProcess(['driver_stats']))[0]!));
});
