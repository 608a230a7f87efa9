// granary-test: no-stack
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { localStack, STACK_PORT_VARIABLES } from '../../config/local-stack.ts';
import { startPrivateRedisCluster, startPrivateRedisSentinel } from '../../scripts/private-services.ts';
import {
  redisClusterNodes,
  REPO_ROOT,
  stackDownTopologies,
  stackTopologySpecs,
  stackTopologyStatus,
  stackUpTopologies,
  tcpAnswers,
} from '../../scripts/stack/index.ts';

const quiet = (): void => {};

/** A base port whose six consecutive ports, and their cluster buses (+10000), are all free. */
async function freeClusterBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 1990); // their buses stay below the ephemeral range (32768+)
    const ports = Array.from({ length: 6 }, (_, n) => base + n);
    const taken = await Promise.all([...ports, ...ports.map((p) => p + 10_000)].map((p) => tcpAnswers('127.0.0.1', p, 300)));
    if (!taken.some(Boolean)) return base;
  }
  throw new Error('no free range of 6 ports found');
}

function clusterClient(nodes: ReadonlyArray<{ host: string; port: number }>): Cluster {
  const cluster = new Cluster([...nodes], {
    clusterRetryStrategy: () => 200,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 2000,
    redisOptions: { connectTimeout: 1000 },
  });
  cluster.on('error', quiet);
  return cluster;
}

/** Writes `count` keys (spread over every slot range), then reads them back. */
async function setAndGet(client: Cluster | Redis, prefix: string, count = 200): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, n) => `${prefix}:${n}`);
  for (const key of keys) await client.set(key, `v-${key}`);
  return Promise.all(keys.map((key) => client.get(key) as Promise<string>));
}

test('up --redis-cluster twice: the second reuses it; 3 masters and 3 replicas serve all slots; down stops it', { timeout: 180_000 }, async () => {
  const env: NodeJS.ProcessEnv = { [STACK_PORT_VARIABLES.redisCluster]: String(await freeClusterBase()) };
  const stateDir = mkdtempSync(join(REPO_ROOT, '.granary', 'stack-test-'));
  const options = { env, stateDir, topologies: ['redis-cluster'] as const, log: quiet };
  const spec = stackTopologySpecs(options)['redis-cluster'];
  try {
    const [first] = await stackUpTopologies(options);
    assert.equal(first?.action, 'started');
    assert.equal(first?.addresses, localStack(env).redisCluster.nodes);
    const [second] = await stackUpTopologies(options);
    assert.equal(second?.action, 'reused');

    const nodes = await redisClusterNodes(spec);
    const masters = nodes.filter((n) => n.role === 'master');
    assert.equal(masters.length, 3);
    assert.equal(nodes.filter((n) => n.role === 'replica').length, 3);
    assert.equal(masters.reduce((sum, m) => sum + m.slots, 0), 16384);
    // Only this test's topology: another one answering at its default ports (a developer's stack) is listed too.
    const status = (await stackTopologyStatus(options)).find((s) => s.topology === 'redis-cluster');
    assert.equal(status?.healthy, true);
    assert.ok(status?.nodes.every((n) => n.pid !== null), JSON.stringify(status));
    console.log(`cluster formed in ${((first?.ms ?? 0) / 1000).toFixed(1)} s, reused in ${second?.ms} ms`);

    const client = clusterClient(localStack(env).redisCluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    try {
      assert.deepEqual(await setAndGet(client, 'granary:cluster'), Array.from({ length: 200 }, (_, n) => `v-granary:cluster:${n}`));
    } finally {
      client.disconnect();
    }

    // A graceful stop saves every node's data and its nodes.conf: up forms the same cluster again.
    assert.deepEqual(await stackDownTopologies(options), [{ topology: 'redis-cluster', outcome: 'stopped' }]);
    assert.deepEqual(await Promise.all(spec.ports.map((p) => tcpAnswers('127.0.0.1', p, 300))), Array(6).fill(false));
    const [again] = await stackUpTopologies(options);
    assert.equal(again?.action, 'started');
    const back = clusterClient([{ host: '127.0.0.1', port: spec.ports[0]! }]);
    try {
      assert.equal(await back.get('granary:cluster:7'), 'v-granary:cluster:7', 'the data survived down / up');
    } finally {
      back.disconnect();
    }
  } finally {
    await stackDownTopologies(options).catch(quiet);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('up --redis-sentinel twice: the second reuses it; the sentinels agree on the master; down and up keep the data', { timeout: 180_000 }, async () => {
  const base = 20_000 + Math.floor(Math.random() * 11_000);
  const env: NodeJS.ProcessEnv = { [STACK_PORT_VARIABLES.redisSentinel]: String(base) };
  const stateDir = mkdtempSync(join(REPO_ROOT, '.granary', 'stack-test-'));
  const options = { env, stateDir, topologies: ['redis-sentinel'] as const, log: quiet };
  const { redisSentinel } = localStack(env);
  const client = (): Redis => {
    const redis = new Redis({ sentinels: redisSentinel.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: redisSentinel.masterName, connectTimeout: 1000 });
    redis.on('error', quiet);
    return redis;
  };
  try {
    const [first] = await stackUpTopologies(options);
    assert.equal(first?.action, 'started');
    assert.equal(first?.addresses, redisSentinel.sentinels);
    assert.equal((await stackUpTopologies(options))[0]?.action, 'reused');
    const status = (await stackTopologyStatus(options)).find((s) => s.topology === 'redis-sentinel');
    assert.deepEqual(status?.nodes.map((n) => n.role), ['master', 'slave', 'sentinel', 'sentinel', 'sentinel']);
    console.log(`sentinel setup started in ${((first?.ms ?? 0) / 1000).toFixed(1)} s`);
    const redis = client();
    try {
      await redis.set('granary:sentinel:kept', 'yes');
    } finally {
      redis.disconnect();
    }
    assert.deepEqual(await stackDownTopologies(options), [{ topology: 'redis-sentinel', outcome: 'stopped' }]);
    assert.equal((await stackUpTopologies(options))[0]?.action, 'started');
    const again = client();
    try {
      assert.equal(await again.get('granary:sentinel:kept'), 'yes', 'the data survived down / up');
    } finally {
      again.disconnect();
    }
  } finally {
    await stackDownTopologies(options).catch(quiet);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('`stack env` prints the cluster and sentinel variables when they are switched on', async () => {
  const env = { ...process.env, GRANARY_STACK_REDIS_CLUSTER: '1', GRANARY_STACK_REDIS_SENTINEL: '1', GRANARY_STACK_REDIS_CLUSTER_PORT: '17100', GRANARY_STACK_REDIS_SENTINEL_PORT: '17110' };
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/stack/cli.ts', 'env'], { cwd: REPO_ROOT, env });
  const lines = stdout.trim().split('\n');
  assert.ok(lines.includes('export GRANARY_REDIS_CLUSTER_NODES=127.0.0.1:17100,127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103,127.0.0.1:17104,127.0.0.1:17105'), stdout);
  assert.ok(lines.includes("export GRANARY_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:17100,127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103,127.0.0.1:17104,127.0.0.1:17105"), stdout);
  assert.ok(lines.includes('export GRANARY_REDIS_SENTINELS=127.0.0.1:17112,127.0.0.1:17113,127.0.0.1:17114'), stdout);
  assert.ok(lines.includes('export GRANARY_REDIS_SENTINEL_MASTER=granary'), stdout);
});

test('a private cluster: SIGKILL of a master promotes its replica, cluster_state returns to ok, the client carries on', { timeout: 180_000 }, async () => {
  const t0 = performance.now();
  const cluster = await startPrivateRedisCluster({ log: quiet });
  const formed = performance.now() - t0;
  const client = clusterClient(cluster.nodes);
  try {
    assert.equal((await cluster.masters()).length, 3);
    await setAndGet(client, 'granary:before');
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the replicas catch up (asynchronous replication)

    const [victim] = await cluster.masters();
    await cluster.kill(victim!.port);
    const promotion = await cluster.waitForPromotion(victim!.port, 30_000);
    console.log(`private cluster formed in ${(formed / 1000).toFixed(1)} s; replica ${promotion.port} promoted ${(promotion.ms / 1000).toFixed(1)} s after the SIGKILL of master ${victim!.port}`);
    assert.notEqual(promotion.port, victim!.port);
    assert.equal((await cluster.masters()).length, 3);

    assert.equal(await client.get('granary:before:42'), 'v-granary:before:42', 'the promoted replica holds the data');
    assert.deepEqual(await setAndGet(client, 'granary:after'), Array.from({ length: 200 }, (_, n) => `v-granary:after:${n}`));

    await cluster.start(); // the killed master rejoins, as a replica
    assert.equal(await cluster.healthy(), true);
    const rejoined = (await cluster.clusterNodes()).find((n) => n.port === victim!.port);
    assert.equal(rejoined?.role, 'replica');
  } finally {
    client.disconnect();
    await cluster.dispose();
  }
  assert.equal(existsSync(cluster.dir), false);
  assert.deepEqual(await Promise.all(cluster.nodes.map((n) => tcpAnswers(n.host, n.port, 300))), Array(6).fill(false));
});

test('a private Sentinel setup: SIGKILL of the master, the sentinels promote the replica, the client follows', { timeout: 180_000 }, async () => {
  const t0 = performance.now();
  const sentinel = await startPrivateRedisSentinel({ log: quiet });
  const formed = performance.now() - t0;
  const client = new Redis({ sentinels: [...sentinel.sentinels], name: sentinel.name, sentinelRetryStrategy: () => 200, retryStrategy: () => 200, connectTimeout: 1000 });
  client.on('error', quiet);
  try {
    const master = await sentinel.master();
    assert.equal(master.port, sentinel.dataPorts[0]);
    await client.set('granary:sentinel', 'before');
    await client.wait(1, 2000); // the replica has it

    await sentinel.kill(master.port);
    const promotion = await sentinel.waitForPromotion(master.port, 30_000);
    console.log(`sentinel setup up in ${(formed / 1000).toFixed(1)} s; replica ${promotion.port} promoted ${(promotion.ms / 1000).toFixed(1)} s after the SIGKILL of master ${master.port}`);
    assert.equal(promotion.port, sentinel.dataPorts[1]);

    assert.equal(await client.get('granary:sentinel'), 'before');
    await client.set('granary:sentinel', 'after');
    assert.equal(await client.get('granary:sentinel'), 'after');
    assert.deepEqual(await client.role().then((r) => (r as unknown[])[0]), 'master');

    await sentinel.start(); // the old master comes back as a replica of the new one
    assert.equal(await sentinel.healthy(), true);
    assert.equal((await sentinel.master()).port, promotion.port);
  } finally {
    client.disconnect();
    await sentinel.dispose();
  }
  assert.equal(existsSync(sentinel.dir), false);
});
