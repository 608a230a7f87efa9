import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import { requestRebuildAfterLoss } from '../../sdk/online-loss.ts';
import { FeatureServer } from '../../serving/feature-server.ts';
import { connectClient } from '../../workers/temporal-connection.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { HOUR, servingFixture, userProfile } from './serving-fixtures.ts';
import { servingConsumer } from './serving-consumer.ts';

// A Redis of this file's own: it is stopped and blocked here, never the shared one.
const redis = await startPrivateRedis();
test.after(() => redis.dispose());
const fixture = await servingFixture('serving_faults', { redisUrl: redis.url });
const now = Date.now();
const writeU1 = () => fixture.write(userProfile, [{ entityKey: ['u1'], values: { age: 31, country: 'FR' }, eventTime: now - HOUR, createdTime: 0 }]);
await writeU1();

const body = JSON.stringify({ features: ['user_profile:age'], entities: { user_id: ['u1'] } });
const consumer = await servingConsumer(fixture);
const read = (url: string) => fetch(`${url}/get-online-features`, { method: 'POST', body, headers: consumer.headers });

async function timed<T>(what: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await what();
  return { value, ms: performance.now() - started };
}

test('Redis down: a fast 503 naming Redis, health 503, counted; served again once Redis is back', async () => {
  const server = new FeatureServer({ registry: fixture.registry, online: fixture.online, access: consumer.access, timeoutMs: 500 });
  const url = await server.listen({ port: 0 });
  try {
    assert.equal((await read(url)).status, 200);
    await redis.stop();

    for (let i = 0; i < 3; i++) {
      const { value: response, ms } = await timed(() => read(url));
      const json = (await response.json()) as { code: string; message: string };
      assert.equal(response.status, 503, JSON.stringify(json));
      assert.equal(json.code, 'ONLINE_STORE_UNAVAILABLE');
      assert.match(json.message, new RegExp(`Redis at ${redis.url} failed`));
      assert.ok(ms < 300, `503 after ${Math.round(ms)} ms`);
    }
    const { value: health, ms } = await timed(() => fetch(`${url}/health`));
    assert.equal(health.status, 503);
    const state = (await health.json()) as { status: string; redis: string; registry: string };
    assert.equal(state.status, 'unavailable');
    assert.equal(state.registry, 'ok');
    assert.match(state.redis, /Redis at .* failed \(ping\)/);
    assert.ok(ms < 700, `health answered after ${Math.round(ms)} ms`);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.ok(Number(/granary_serving_redis_errors_total (\d+)/.exec(metrics)?.[1]) >= 4, metrics.slice(0, 400));
    assert.match(metrics, /granary_serving_requests_total\{endpoint="\/get-online-features",status="503"\} 3/);

    await redis.start();
    const deadline = Date.now() + 10_000;
    // Back empty (no persistence): write the row again once the store has reconnected.
    while (!(await writeU1().then(() => true, () => false)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    let status = 0;
    while (Date.now() < deadline && (status = (await read(url)).status) !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(status, 200);
    assert.equal((await fetch(`${url}/health`)).status, 200);
  } finally {
    await server.close();
  }
});

test('graceful shutdown: a request in flight finishes; then the port is closed', async () => {
  const server = new FeatureServer({ registry: fixture.registry, online: fixture.online, access: consumer.access, timeoutMs: 2000 });
  const url = await server.listen({ port: 0 });
  const raw = new Redis(redis.url);
  raw.on('error', () => undefined);
  try {
    assert.equal((await read(url)).status, 200);
    // A script spinning for 400 ms blocks Redis: the next read waits for it.
    const spin = "local s = redis.call('TIME') local n repeat n = redis.call('TIME') until (n[1] - s[1]) * 1e6 + n[2] - s[2] > 4e5 return 1";
    const blocked = raw.eval(spin, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const inFlight = read(url);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { ms } = await timed(() => server.close());
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as { results: { values: unknown[] }[] }).results[1]!.values, [31]);
    assert.ok(ms >= 150 && ms < 2000, `close waited ${Math.round(ms)} ms for the request in flight`);
    await blocked;
    await assert.rejects(read(url), /fetch failed/);
  } finally {
    raw.disconnect();
    await server.close();
  }
});

test('Redis lost its data (FLUSHALL): /health is 503 naming the lost view, granary_online_state is 0, the server starts its rebuild; healthOnLoss ok stays 200', async (t) => {
  const { registry, online, config } = fixture;
  // user_profile was materialized up to a commit: its generation has a marker that says so.
  const { generation } = await registry.activeGeneration('user_profile', 1);
  const { commit } = await registry.commit({
    view: 'user_profile',
    version: 1,
    batchId: 'lost-b1',
    schemaVersion: 1,
    objects: [{ key: 'k-lost', rowCount: 1, minEventTime: new Date(now - HOUR), maxEventTime: new Date(now - HOUR), checksum: 'c', bytes: 1 }],
  });
  await registry.advanceWatermark('user_profile', 1, generation, commit.seq);
  const target = fixture.target(userProfile, generation);
  const mark = async () => {
    await online.markGeneration(target);
    await online.recordApplied(target, commit.seq);
  };
  await mark();

  const client = await connectClient(config.temporal);
  const ref = { project: config.project, view: 'user_profile', version: 1 };
  t.after(async () => {
    await client.workflow.getHandle(workflowIds.rebuild(ref)).terminate('serving test over').catch(() => undefined);
    await client.connection.close();
  });
  const requested: string[] = [];
  const logged: string[] = [];
  const server = new FeatureServer({
    registry,
    online,
    access: { auth: 'none' },
    timeoutMs: 500,
    onlineCheckMs: 200,
    // What `granary serve` passes with online.onRedisLoss: rebuild (no worker polls this test's queue: it stays RUNNING).
    rebuildOnLoss: (lost) => {
      requested.push(`${lost.view}@${lost.version}`);
      return requestRebuildAfterLoss(client, { onRedisLoss: 'rebuild', taskQueue: config.temporal.taskQueue }, lost);
    },
    log: (line) => logged.push(line),
  });
  const stayUp = new FeatureServer({ registry, online, access: { auth: 'none' }, timeoutMs: 500, healthOnLoss: 'ok' });
  const url = await server.listen({ port: 0 });
  const stayUpUrl = await stayUp.listen({ port: 0 });
  const raw = new Redis(redis.url);
  raw.on('error', () => undefined);
  const gauge = async (view: string) =>
    Number(new RegExp(`granary_online_state\\{project="${config.project}",view="${view}",version="1"\\} (\\d)`).exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
  try {
    const before = await fetch(`${url}/health`);
    assert.equal(before.status, 200);
    assert.equal(((await before.json()) as { online: string }).online, 'ok');
    assert.equal(await gauge('user_profile'), 1);

    await raw.flushall();
    // Nobody reads, nobody materializes: the server's own check notices and starts the rebuild.
    const deadline = Date.now() + 10_000;
    while (!(await client.workflow.getHandle(workflowIds.rebuild(ref)).describe().then(() => true, () => false))) {
      assert.ok(Date.now() < deadline, `the server did not start the rebuild within 10 s: ${JSON.stringify({ requested, logged, states: server.onlineState.states() })}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(requested, ['user_profile@1'], 'requested once, for the lost view only');
    assert.match(logged.join('\n'), /online generation \d+ of feature view 'user_profile' version 1 .* is gone from Redis .*rebuild started/);

    const health = await fetch(`${url}/health`);
    const state = (await health.json()) as { status: string; online: string; lostViews: unknown[]; message: string };
    assert.equal(health.status, 503, JSON.stringify(state));
    assert.equal(state.status, 'online-data-lost');
    assert.deepEqual(state.lostViews, [{ view: 'user_profile', version: 1, generation, watermark: commit.seq }], 'views never materialized (no marker, watermark 0) are not lost');
    assert.match(state.message, /Redis lost the data of feature view 'user_profile' version 1/);
    assert.equal(await gauge('user_profile'), 0);
    assert.equal(await gauge('user_spend'), 1);

    const kept = await fetch(`${stayUpUrl}/health`);
    assert.equal(kept.status, 200, 'healthOnLoss: ok keeps the replica in rotation');
    assert.equal(((await kept.json()) as { status: string }).status, 'online-data-lost', 'and still says it');

    await mark(); // as a rebuild's cut-over would leave it: a generation with its marker
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal(await gauge('user_profile'), 1);
  } finally {
    raw.disconnect();
    await Promise.all([server.close(), stayUp.close()]);
  }
});
