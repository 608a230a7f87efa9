import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import pg from 'pg';
import { localStack, STACK_PORT_VARIABLES } from '../../config/local-stack.ts';
import { freePort, startPrivateMinio, startPrivatePostgres, startPrivateRedis } from '../../scripts/private-services.ts';
import { REPO_ROOT, STACK_TOPOLOGY_ENV_VARIABLES, stackDown, stackEnv, stackStatus, stackUp } from '../../scripts/stack/index.ts';

const quiet = (): void => {};
const stack = localStack();
const INSTALL_TIMEOUT = 30 * 60_000; // a fresh machine builds MinIO and Temporal first

async function redisPing(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  redis.on('error', quiet);
  try {
    await redis.connect();
    return await redis.ping();
  } finally {
    redis.disconnect();
  }
}

async function postgresSelectOne(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', quiet);
  try {
    await client.connect();
    return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one;
  } finally {
    await client.end().catch(quiet);
  }
}

function s3Client(minio: { endpoint: string; accessKeyId: string; secretAccessKey: string }): S3Client {
  const { endpoint, accessKeyId, secretAccessKey } = minio;
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

test('up twice is idempotent: the second run reuses every service, pids unchanged', { timeout: INSTALL_TIMEOUT }, async () => {
  const first = await stackUp({ log: quiet });
  const before = await stackStatus();
  const second = await stackUp({ log: quiet });
  const after = await stackStatus();
  assert.deepEqual(second.map((r) => r.action), ['reused', 'reused', 'reused', 'reused']);
  assert.deepEqual(second.map((r) => r.pid), first.map((r) => r.pid));
  assert.deepEqual(after, before);
  assert.ok(after.every((s) => s.running), JSON.stringify(after));
});

test('each service answers at the address of localStack()', async () => {
  const env = stackEnv();
  assert.equal(await redisPing(env.GRANARY_REDIS_URL), 'PONG');
  assert.equal(await postgresSelectOne(env.GRANARY_POSTGRES_URL), 1);

  const s3 = s3Client(stack.minio);
  try {
    const head = await s3.send(new HeadBucketCommand({ Bucket: stack.minio.bucket }));
    assert.equal(head.$metadata.httpStatusCode, 200);
  } finally {
    s3.destroy();
  }

  const connection = await Connection.connect({ address: env.GRANARY_TEMPORAL_ADDRESS });
  try {
    const info = await connection.workflowService.getSystemInfo({});
    assert.ok(info.serverVersion, 'Temporal reports its version');
  } finally {
    await connection.close();
  }
});

test('`stack env` prints export lines that match localStack()', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/stack/cli.ts', 'env'], { cwd: REPO_ROOT });
  const lines = stdout.trim().split('\n');
  const parsed = Object.fromEntries(
    lines.map((line) => {
      const match = /^export (GRANARY_[A-Z0-9_]+)=(\S+)$/.exec(line);
      assert.ok(match, `not an export line: ${line}`);
      return [match[1], match[2]];
    }).filter(([name]) => !(STACK_TOPOLOGY_ENV_VARIABLES as readonly string[]).includes(name!)), // printed while a Redis Cluster or Sentinel setup is up
  );
  assert.deepEqual(parsed, {
    GRANARY_REDIS_URL: stack.redis.url,
    GRANARY_POSTGRES_URL: stack.postgres.url,
    GRANARY_OFFLINE_URL: stack.minio.offlineUrl,
    GRANARY_S3_ENDPOINT: stack.minio.endpoint,
    GRANARY_S3_ACCESS_KEY_ID: stack.minio.accessKeyId,
    GRANARY_S3_SECRET_ACCESS_KEY: stack.minio.secretAccessKey,
    GRANARY_TEMPORAL_ADDRESS: stack.temporal.address,
    GRANARY_TEMPORAL_NAMESPACE: stack.temporal.namespace,
  });
});

test('a private Redis can be started, killed and restarted, apart from the shared one', async () => {
  const redis = await startPrivateRedis({ log: quiet });
  try {
    assert.notEqual(redis.port, stack.redis.port);
    assert.equal(await redisPing(redis.url), 'PONG');
    await redis.kill();
    assert.equal(await redis.running(), false);
    await assert.rejects(redisPing(redis.url));
    await redis.start();
    assert.equal(await redisPing(redis.url), 'PONG');
    assert.equal(await redisPing(stack.redis.url), 'PONG', 'the shared Redis is untouched');
  } finally {
    await redis.dispose();
  }
  assert.equal(existsSync(redis.dir), false);
});

test('a private PostgreSQL keeps its data across a kill and a restart', { timeout: 120_000 }, async () => {
  const postgres = await startPrivatePostgres({ log: quiet });
  try {
    const client = async (sql: string): Promise<pg.QueryResult> => {
      const c = new pg.Client({ connectionString: postgres.url });
      await c.connect();
      try {
        return await c.query(sql);
      } finally {
        await c.end();
      }
    };
    await client('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await postgres.kill();
    await assert.rejects(postgresSelectOne(postgres.url));
    await postgres.start();
    assert.deepEqual((await client('SELECT n FROM kept')).rows, [{ n: 42 }]);
    await postgres.stop();
    assert.equal(await postgres.running(), false);
  } finally {
    await postgres.dispose();
  }
});

test('a private MinIO comes with its bucket and restarts', { timeout: 120_000 }, async () => {
  const minio = await startPrivateMinio({ log: quiet });
  const s3 = s3Client(minio);
  try {
    assert.equal((await s3.send(new HeadBucketCommand({ Bucket: minio.bucket }))).$metadata.httpStatusCode, 200);
    await minio.stop();
    assert.equal(await minio.running(), false);
    await minio.start();
    assert.equal((await s3.send(new HeadBucketCommand({ Bucket: minio.bucket }))).$metadata.httpStatusCode, 200);
  } finally {
    s3.destroy();
    await minio.dispose();
  }
});

test('a whole stack on other ports: up starts all four, down stops them', { timeout: 180_000 }, async () => {
  const env: NodeJS.ProcessEnv = {};
  for (const variable of Object.values(STACK_PORT_VARIABLES)) env[variable] = String(await freePort());
  const stateDir = mkdtempSync(join(REPO_ROOT, '.granary', 'stack-test-'));
  chmodSync(stateDir, 0o755); // PostgreSQL's server runs as the postgres user
  const options = { env, stateDir, log: quiet };
  try {
    const up = await stackUp(options);
    assert.deepEqual(up.map((r) => r.action), ['started', 'started', 'started', 'started']);
    const status = await stackStatus(options);
    assert.deepEqual(status.map((s) => [s.running, s.startedBy]), Array(4).fill([true, 'granary']));
    assert.equal(await redisPing(localStack(env).redis.url), 'PONG');
    const down = await stackDown(options);
    assert.deepEqual(down.map((d) => d.outcome), ['stopped', 'stopped', 'stopped', 'stopped']);
    assert.deepEqual((await stackStatus(options)).map((s) => s.running), [false, false, false, false]);
  } finally {
    await stackDown(options).catch(quiet);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test("the stack's Redis keeps its data across down and up (a restart of the stack is not a Redis loss)", { timeout: 120_000 }, async () => {
  const env: NodeJS.ProcessEnv = { [STACK_PORT_VARIABLES.redis]: String(await freePort()) };
  const stateDir = mkdtempSync(join(REPO_ROOT, '.granary', 'stack-test-'));
  const options = { env, stateDir, services: ['redis'] as const, log: quiet };
  const url = localStack(env).redis.url;
  try {
    assert.deepEqual((await stackUp(options)).map((r) => r.action), ['started']);
    const redis = new Redis(url);
    try {
      await redis.hset('granary:persist:v1:g1:marker', 'applied', '7');
    } finally {
      redis.disconnect();
    }
    assert.deepEqual((await stackDown(options)).map((d) => d.outcome), ['stopped']);
    assert.deepEqual((await stackUp(options)).map((r) => r.action), ['started']);
    const again = new Redis(url);
    try {
      assert.equal(await again.hget('granary:persist:v1:g1:marker', 'applied'), '7', 'the marker survived down / up');
    } finally {
      again.disconnect();
    }
  } finally {
    await stackDown(options).catch(quiet);
    rmSync(stateDir, { recursive: true, force: true });
  }
});
