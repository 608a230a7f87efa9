import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../../scripts/private-services.ts';
import { OnlineStoreError } from '../../stores/online/online-store-error.ts';
import type { OnlineRow } from '../../stores/online/online-store.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { testTarget } from './online-fixtures.ts';

const target = testTarget();
const row = (spend: number): OnlineRow => ({ entityKey: ['u1'], values: { spend }, eventTime: Date.now(), createdTime: 0 });

async function failsFast(call: Promise<unknown>, url: string, withinMs: number): Promise<OnlineStoreError> {
  const started = performance.now();
  let caught: unknown;
  await call.catch((error: unknown) => {
    caught = error;
  });
  const elapsed = performance.now() - started;
  assert.ok(caught instanceof OnlineStoreError, `expected an OnlineStoreError, got ${String(caught)}`);
  assert.ok(caught.message.includes(`Redis at ${url} failed`), caught.message);
  caught.message += ` [after ${Math.round(elapsed)} ms]`;
  assert.ok(elapsed < withinMs, `failed after ${Math.round(elapsed)} ms, expected under ${withinMs} ms: ${caught.message}`);
  return caught;
}

async function eventually(what: string, attempt: () => Promise<unknown>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${withinMs} ms: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

test('Redis stopped: writes and reads fail fast naming the URL, and work again after a restart', async (t) => {
  const redis = await startPrivateRedis();
  t.after(() => redis.dispose());
  const queueing = new RedisOnlineStore({ url: redis.url, keyPrefix: 'down-test' });
  const failFast = new RedisOnlineStore({ url: redis.url, keyPrefix: 'down-test', failFast: true });
  t.after(() => Promise.all([queueing.close(), failFast.close()]));

  assert.equal((await queueing.writeRows(target, [row(1)])).written, 1);
  assert.equal((await failFast.readRows([{ target, entityKeys: [['u1']] }]))[0]![0]!.values.spend, 1);

  await redis.stop();
  const writeError = await failsFast(queueing.writeRows(target, [row(2)]), redis.url, 3000);
  t.diagnostic(writeError.message);
  await failsFast(queueing.readRows([{ target, entityKeys: [['u1']] }]), redis.url, 3000);
  const readError = await failsFast(failFast.readRows([{ target, entityKeys: [['u1']] }]), redis.url, 100);
  t.diagnostic(readError.message);
  await failsFast(failFast.writeRows(target, [row(2)]), redis.url, 100);
  await failsFast(failFast.ping(), redis.url, 100);
  assert.match(readError.message, /not connected.*ECONNREFUSED/);
  assert.match(writeError.message, /not connected.*ECONNREFUSED/);

  // Back (empty: no persistence); both stores reconnect on their own.
  await redis.start();
  await eventually('queueing store', () => queueing.ping());
  await eventually('fail-fast store', () => failFast.ping());
  assert.equal((await queueing.writeRows(target, [row(3)])).written, 1);
  assert.equal((await failFast.readRows([{ target, entityKeys: [['u1']] }]))[0]![0]!.values.spend, 3);
  assert.equal((await failFast.writeRows(target, [row(4)])).written, 1);
});

test('Redis never reachable: the first call fails fast naming the URL', async (t) => {
  const redis = await startPrivateRedis();
  await redis.dispose();
  const store = new RedisOnlineStore({ url: `redis://:s3cret@127.0.0.1:${redis.port}/0`, keyPrefix: 'down-test', failFast: true });
  const queueing = new RedisOnlineStore({ url: redis.url, keyPrefix: 'down-test' });
  t.after(() => Promise.all([store.close(), queueing.close()]));
  const error = await failsFast(store.ping(), `redis://:***@127.0.0.1:${redis.port}/0`, 2500);
  assert.ok(!error.message.includes('s3cret'), 'the password is not shown');
  await failsFast(queueing.writeRows(target, [row(1)]), redis.url, 2500);
  await failsFast(queueing.hasGenerationMarker(target), redis.url, 2500);
});

test('a call Redis does not answer in time fails with the deadline', async (t) => {
  const redis = await startPrivateRedis();
  t.after(() => redis.dispose());
  const store = new RedisOnlineStore({ url: redis.url, keyPrefix: 'down-test', commandTimeoutMs: 200 });
  t.after(() => store.close());
  await store.ping();
  // A script spinning for a second blocks the server.
  const raw = new Redis(redis.url);
  raw.on('error', () => undefined);
  t.after(() => raw.disconnect());
  const spin = "local s = redis.call('TIME') local n repeat n = redis.call('TIME') until (n[1] - s[1]) * 1e6 + n[2] - s[2] > 1e6 return 1";
  const sleeping = raw.eval(spin, 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const error = await failsFast(store.readRows([{ target, entityKeys: [['u1']] }]), redis.url, 600);
  assert.match(error.message, /no reply within 200 ms/);
  await sleeping;
});
