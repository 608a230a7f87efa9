import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import { rebuildProgressQuery, workflowIds } from '../../workflows/contracts.ts';
import { onlineTarget } from '../../pipelines/registered-view.ts';
import { driverRows, driverStats } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { sleep } from '../../scripts/worker-process.ts';

/**
 * Disaster recovery (issue 6): the online store rebuilt from the offline store into a new
 * generation, then cut over. Each test ends with verify on the active generation.
 */
async function fixtureOnPrivateRedis(name: string) {
  const redis = await startPrivateRedis();
  const f = await pipelineFixture(name, { GRANARY_REDIS_URL: redis.url });
  const raw = new Redis(redis.url);
  return { ...f, redis, raw, async dispose() { raw.disconnect(); await redis.dispose(); } };
}

async function verifyOk(f: Awaited<ReturnType<typeof pipelineFixture>>, entities: number) {
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, entities);
  assert.equal(report!.watermark, report!.latestSeq, 'every commit is online');
  return report!;
}

test('Redis flushed: materialization refuses its watermark and starts a rebuild; the rebuild cuts over to a new generation and drops the old', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_flush');
  t.after(() => f.dispose());
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(6000, { entities: 3000 }), { batchId: 'b1' });
  await verifyOk(f, 3000);

  await f.raw.flushall();
  const [lost] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(lost!.missing, 3000, 'verify sees the loss');
  const [lostStatus] = await f.store.status(['driver_stats']);
  assert.equal(lostStatus!.online, 'lost', 'status sees the loss too (the generation marker is gone)');

  const [materialized] = await f.store.materialize(['driver_stats']);
  assert.equal(materialized!.state, 'rebuild-requested', 'the watermark is not trusted');
  const [rebuilt] = await f.store.rebuildOnline(['driver_stats'], { wait: true });
  assert.equal(rebuilt!.progress.state, 'done');
  assert.equal(rebuilt!.progress.previousGeneration, 1);
  assert.equal(rebuilt!.progress.generation, 2);
  assert.equal(rebuilt!.progress.entitiesWritten, 3000, 'each entity written once: the latest row, reduced before writing');
  // It attached to the rebuild materialization had started (default partitions): one rebuild, not two.
  assert.equal(rebuilt!.progress.partitionsDone, rebuilt!.progress.partitions);

  const report = await verifyOk(f, 3000);
  assert.equal(report.generation, 2);
  const generations = await f.registry.generations('driver_stats', 1);
  assert.deepEqual(generations.map((g) => [g.generation, g.state]), [[2, 'active'], [1, 'dropped']]);
  assert.equal((await f.raw.keys(`*:g1:*`)).length, 0, 'the old generation has no key left');
  const [status] = await f.store.status(['driver_stats']);
  assert.equal(status!.activeGeneration, 2);
  assert.equal(status!.rebuild?.status, 'COMPLETED');
  assert.equal(status!.stale, false);
  assert.equal(status!.online, 'ok');

  // Started again once finished: a new rebuild (generation 3), as an operator would expect.
  const [again] = await f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 2, retireAfterSeconds: 0 });
  assert.equal(again!.progress.generation, 3);
  await verifyOk(f, 3000);
});

test('the worker killed mid-rebuild: a new worker resumes from the last heartbeat, not from zero, and the result is exact', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_kill');
  t.after(() => f.dispose());
  const first = await f.startWorker();
  await f.store.push('driver_stats', driverRows(24_000, { entities: 12_000 }), { batchId: 'b1' });
  await first.kill('SIGTERM');

  const doomed = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-rebuild', GRANARY_LOG_LEVEL: 'INFO' });
  const [started] = await f.store.rebuildOnline(['driver_stats'], { partitions: 4, parallelism: 1, retireAfterSeconds: 0 });
  // Started twice: the second start attaches to the first.
  const [second] = await f.store.rebuildOnline(['driver_stats'], { partitions: 4, parallelism: 1, retireAfterSeconds: 0 });
  assert.equal(second!.workflowId, started!.workflowId);
  assert.equal(await doomed.exited, 'SIGKILL', doomed.output());
  assert.match(doomed.output(), /partition 0\/4: done/);

  const rescuer = await f.startWorker({ GRANARY_LOG_LEVEL: 'INFO' });
  const handle = (await f.store.temporal()).workflow.getHandle(workflowIds.rebuild(f.ref));
  const result = await handle.result();
  assert.equal(result.state, 'done');
  assert.match(rescuer.output(), /partition 1\/4: resuming at entity 2000 of \d+ \(from the last heartbeat\)/);
  assert.doesNotMatch(rescuer.output(), /partition 0\/4/, 'the partition finished before the kill is not done again');
  assert.equal(result.entitiesWritten, 12_000);
  // Read once whatever the partitions: the slice's rows are read by its scatter, not by each of the 4 partitions.
  assert.equal(result.rowsCommitted, 24_000);
  assert.equal(result.rowsRead, 24_000);
  const report = await verifyOk(f, 12_000);
  assert.equal(report.generation, 2);
});

test('the worker killed mid-verify: the verify of its partition resumes on a new worker after the entities already compared, and the rebuild cuts over', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_verify_kill');
  t.after(() => f.dispose());
  const first = await f.startWorker();
  await f.store.push('driver_stats', driverRows(24_000, { entities: 12_000 }), { batchId: 'b1' });
  await first.kill('SIGTERM');

  const doomed = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-verify', GRANARY_LOG_LEVEL: 'INFO' });
  await f.store.rebuildOnline(['driver_stats'], { partitions: 4, parallelism: 1, retireAfterSeconds: 0 });
  assert.equal(await doomed.exited, 'SIGKILL', doomed.output());
  assert.match(doomed.output(), /partition 3\/4: done/, 'every partition was built before the verify');

  const rescuer = await f.startWorker({ GRANARY_LOG_LEVEL: 'INFO' });
  const result = await (await f.store.temporal()).workflow.getHandle(workflowIds.rebuild(f.ref)).result();
  assert.equal(result.state, 'done');
  assert.match(rescuer.output(), /verify of 'driver_stats' v1 generation 2, partition 1\/4: resuming after entity 2000 \(from the last heartbeat\)/);
  assert.equal(result.verifiedEntities, 12_000, 'the counts carried over the kill add up to every entity once');
  const report = await verifyOk(f, 12_000);
  assert.equal(report.generation, 2);
});

test('two workers share one rebuild: each runs build partitions, one of them killed (SIGKILL) at its first partition past the first, and the rebuild verifies with zero divergence', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_two');
  t.after(() => f.dispose());
  const first = await f.startWorker();
  await f.store.push('driver_stats', driverRows(24_000, { entities: 12_000 }), { batchId: 'b1' });
  await first.kill('SIGTERM');

  // One activity at a time per worker, two partitions at a time: the two in flight run on different workers.
  // Worker a dies (SIGKILL) in the first partition past partition 0 it builds or verifies; b finishes the work.
  const a = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-rebuild,mid-verify', GRANARY_LOG_LEVEL: 'INFO' }, ['--max-activities', '1']);
  const b = await f.startWorker({ GRANARY_LOG_LEVEL: 'INFO' }, ['--max-activities', '1']);
  const [started] = await f.store.rebuildOnline(['driver_stats'], { partitions: 4, parallelism: 2, retireAfterSeconds: 0 });
  const result = await (await f.store.temporal()).workflow.getHandle(started!.workflowId).result();

  assert.equal(result.state, 'done');
  assert.match(a.output(), /rebuild of 'driver_stats' v1 generation 2, partition \d\/4: starting/, `worker a ran no build partition:\n${a.output()}`);
  assert.match(b.output(), /rebuild of 'driver_stats' v1 generation 2, partition \d\/4: (starting|resuming)/, `worker b ran no build partition:\n${b.output()}`);
  assert.equal(result.entitiesWritten, 12_000);
  assert.equal(result.rowsRead, 24_000);
  const report = await verifyOk(f, 12_000);
  assert.equal(report.generation, 2);
});

test('a rebuild while serving and ingesting: reads never miss an entity, before or after the cut-over, and rows ingested meanwhile are in the new generation', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_live');
  t.after(() => f.dispose());
  await f.startWorker();
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(40_000, { entities: 20_000 }), { batchId: 'b1' });
  const sample = Array.from({ length: 200 }, (_, i) => [BigInt(1 + i * 100)] as const);

  // A reader as serving does it: look up the active generation, read from it.
  let reads = 0;
  let stop = false;
  const generationsSeen = new Set<number>();
  const reader = (async () => {
    while (!stop) {
      const { generation } = await f.registry.activeGeneration('driver_stats', 1);
      const rows = await f.store.stores.online.readRows([{ target: onlineTarget(f.ref, driverStats, generation), entityKeys: sample }]);
      const missing = rows[0]!.findIndex((r) => r === null);
      assert.equal(missing, -1, `entity ${sample[missing]?.[0]} read as not found from generation ${generation}`);
      generationsSeen.add(generation);
      reads += 1;
      await sleep(20);
    }
  })();

  const rebuild = f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 8, parallelism: 1, retireAfterSeconds: 1 });
  const client = await f.store.temporal();
  const handle = client.workflow.getHandle(workflowIds.rebuild(f.ref));
  let upTo = 0;
  for (let i = 0; i < 200 && upTo === 0; i++) {
    upTo = await handle.query(rebuildProgressQuery).then((p) => p.upTo, () => 0);
    if (upTo === 0) await sleep(25);
  }
  assert.ok(upTo > 0, 'the rebuild fixed its commit range');
  const lateRows = driverRows(500, { entities: 500, now: Date.now() + 60_000, salt: 3 });
  const late = await f.store.push('driver_stats', lateRows, { batchId: 'b2' });
  assert.ok(late.seq > upTo, 'the second batch committed after the rebuild fixed its range');
  const [result] = await rebuild;
  stop = true;
  await reader;

  assert.equal(result!.progress.generation, 2);
  assert.ok(result!.progress.watermark >= late.seq, 'the catch-up applied the commit that landed during the rebuild');
  assert.ok(generationsSeen.has(1) && generationsSeen.has(2), `reads ran before and after the cut-over (${[...generationsSeen]}, ${reads} reads)`);
  const report = await verifyOk(f, 20_000);
  assert.equal(report.generation, 2);
  const newest = await f.store.stores.online.readRows([{ target: onlineTarget(f.ref, driverStats, 2), entityKeys: [[1n]] }]);
  assert.equal(newest[0]![0]!.eventTime, lateRows[0]!.event_timestamp.getTime(), 'entity 1 holds the row ingested during the rebuild');
});

/** Polls `check` every 100 ms until it returns true, or fails naming `what`. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('a rebuild requested after a loss gets a build that starts after the request, even while the last rebuild waits out its retire grace (invariant 8)', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_after_loss');
  t.after(() => f.dispose());
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(2000, { entities: 1000 }), { batchId: 'b1' });
  await verifyOk(f, 1000);

  // A rebuild that cut over to generation 2 and now waits 20 s before dropping generation 1.
  await f.store.rebuildOnline(['driver_stats'], { partitions: 2, retireAfterSeconds: 20 });
  const client = await f.store.temporal();
  const first = client.workflow.getHandle(workflowIds.rebuild(f.ref));
  await waitFor('the first rebuild to cut over and reach its retire grace', async () => {
    const p = await first.query(rebuildProgressQuery).catch(() => undefined);
    return p !== undefined && (p.state === 'retiring' || p.state === 'done') && (await f.registry.activeGeneration('driver_stats', 1)).generation === 2;
  });

  // Then Redis loses the data, and an operator asks for a rebuild and waits for it.
  await f.raw.flushall();
  const [lost] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(lost!.missing, 1000);
  const [rebuilt] = await f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 2, retireAfterSeconds: 0 });

  assert.equal(rebuilt!.progress.generation, 3, 'a new build, not the run that was retiring');
  assert.equal(rebuilt!.progress.previousGeneration, 2);
  assert.equal(rebuilt!.progress.entitiesWritten, 1000);
  const report = await verifyOk(f, 1000);
  assert.equal(report.missing, 0);
  assert.equal(report.generation, rebuilt!.progress.generation, 'verify checks the generation the reply names');
  const generations = await f.registry.generations('driver_stats', 1);
  assert.deepEqual(generations.map((g) => [g.generation, g.state]), [[3, 'active'], [2, 'dropped'], [1, 'dropped']], 'generation 3 retired every older one');
});

/** `granary <args>` as a child process with the fixture's configuration; resolves with its exit code and output. */
function granaryCli(env: Record<string, string>, args: readonly string[]) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['bin/granary.mjs', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { exited, stdout: () => stdout, stderr: () => stderr };
}

test('rebuild-online --wait exits 0 after a rebuild that succeeded while its workers were SIGKILLed and replaced, building and retiring', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_wait_kill');
  t.after(() => f.dispose());
  const loader = await f.startWorker();
  await f.store.push('driver_stats', driverRows(24_000, { entities: 12_000 }), { batchId: 'b1' });
  await loader.kill('SIGTERM');

  // The first worker kills itself in the middle of partition 1 (after partition 0 is done).
  const doomed = await f.startWorker({ GRANARY_FAILPOINTS: 'mid-rebuild' });
  const cli = granaryCli(f.env, ['rebuild-online', 'driver_stats', '--wait', '--partitions', '4', '--parallelism', '1', '--retire-after', '8']);
  assert.equal(await doomed.exited, 'SIGKILL', doomed.output());
  await sleep(4000); // the command keeps asking for progress while no worker runs the rebuild

  // A new worker finishes the build; it is killed too while the old generation waits to be dropped.
  const rescuer = await f.startWorker();
  await waitFor('the cut-over to generation 2', async () => (await f.registry.activeGeneration('driver_stats', 1)).generation === 2);
  await sleep(1000);
  await rescuer.kill('SIGKILL');
  await sleep(4000);
  await f.startWorker();

  const code = await cli.exited;
  assert.equal(code, 0, `rebuild-online --wait exited ${code}\nstdout:\n${cli.stdout()}\nstderr:\n${cli.stderr()}`);
  assert.match(cli.stdout(), /driver_stats v1: generation 2 active \(was 1\), 12000 entities rebuilt, 12000 verified/);
  assert.doesNotMatch(cli.stderr(), /Channel has been shut down/);
  const report = await verifyOk(f, 12_000);
  assert.equal(report.generation, 2);
  const generations = await f.registry.generations('driver_stats', 1);
  assert.deepEqual(generations.map((g) => [g.generation, g.state]), [[2, 'active'], [1, 'dropped']], 'the old generation was dropped before --wait returned');
});

test('a request that reaches a rebuild past its build (verifying) is answered by a new build after that one, which the caller waits for', async (t) => {
  const f = await fixtureOnPrivateRedis('rebuild_late_request');
  t.after(() => f.dispose());
  await f.startWorker();
  await f.store.push('driver_stats', driverRows(40_000, { entities: 20_000 }), { batchId: 'b1' });

  await f.store.rebuildOnline(['driver_stats'], { partitions: 2, retireAfterSeconds: 0 });
  const handle = (await f.store.temporal()).workflow.getHandle(workflowIds.rebuild(f.ref));
  await waitFor('the first rebuild to verify its generation', async () => (await handle.query(rebuildProgressQuery).catch(() => undefined))?.state === 'verifying', 60_000);

  const [answered] = await f.store.rebuildOnline(['driver_stats'], { wait: true, partitions: 4, retireAfterSeconds: 0 });
  assert.equal(answered!.progress.generation, 3, 'built after the request: the generation after the one being verified when it came');
  assert.equal(answered!.progress.previousGeneration, 2, 'the first rebuild cut over to generation 2 first');
  assert.equal(answered!.progress.partitions, 4, "the new build uses the late request's tuning");
  assert.equal(answered!.progress.entitiesWritten, 20_000);
  const report = await verifyOk(f, 20_000);
  assert.equal(report.generation, 3);
  const generations = await f.registry.generations('driver_stats', 1);
  assert.deepEqual(generations.map((g) => [g.generation, g.state]), [[3, 'active'], [2, 'dropped'], [1, 'dropped']]);
});
