// granary-test: no-stack
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { ConfigError, loadConfig } from '../../config/granary-config.ts';
import { localStack } from '../../config/local-stack.ts';

async function repoWith(yaml: string): Promise<string> {
  const dir = await tempDir('config');
  await writeFile(join(dir, 'granary.yaml'), yaml);
  return dir;
}

test("defaults point at the local stack; the offline store is the stack's MinIO, never a folder of the working directory", () => {
  const config = loadConfig({ repoDir: '/tmp/some-repo', env: {} });
  const stack = localStack({});
  assert.equal(config.project, 'default');
  assert.equal(config.online.url, stack.redis.url);
  assert.equal(config.registry.url, stack.postgres.url);
  assert.equal(config.temporal.address, stack.temporal.address);
  assert.equal(stack.minio.offlineUrl, `s3://${stack.minio.bucket}/offline`);
  assert.ok(config.offline.kind === 's3', JSON.stringify(config.offline));
  assert.equal(config.offline.bucket, stack.minio.bucket);
  assert.equal(config.offline.prefix, 'offline');
  assert.equal(config.offline.s3.endpoint, stack.minio.endpoint);
});

test('the file sets values; GRANARY_* variables override it', async () => {
  const dir = await repoWith('project: fraud\noffline:\n  url: s3://features/offline\nserving:\n  port: 7000\n');
  const fromFile = loadConfig({ repoDir: dir, env: {} });
  assert.equal(fromFile.project, 'fraud');
  assert.equal(fromFile.serving.port, 7000);
  assert.equal(fromFile.offline.kind, 's3');
  const local = await repoWith('offline:\n  url: ./history\n');
  assert.deepEqual(loadConfig({ repoDir: local, env: {} }).offline, { kind: 'local', path: join(local, 'history') });
  assert.ok(fromFile.offline.kind === 's3' && fromFile.offline.bucket === 'features' && fromFile.offline.prefix === 'offline');
  const overridden = loadConfig({
    repoDir: dir,
    env: { GRANARY_PROJECT: 'other', GRANARY_SERVING_PORT: '7001', GRANARY_REDIS_URL: 'redis://10.0.0.1:6379' },
  });
  assert.equal(overridden.project, 'other');
  assert.equal(overridden.serving.port, 7001);
  assert.equal(overridden.online.url, 'redis://10.0.0.1:6379');
});

test('offline.s3.endpoint: aws (or null in granary.yaml) is AWS S3 itself: no endpoint, no stack credentials, virtual-hosted style', async () => {
  for (const config of [
    loadConfig({ repoDir: await repoWith('offline:\n  url: s3://features/offline\n  s3:\n    endpoint: null\n'), env: {} }),
    loadConfig({ repoDir: await repoWith('offline:\n  url: s3://features/offline\n'), env: { GRANARY_S3_ENDPOINT: 'aws' } }),
  ]) {
    assert.ok(config.offline.kind === 's3', JSON.stringify(config.offline));
    assert.equal(config.offline.s3.endpoint, null);
    assert.equal(config.offline.s3.accessKeyId, null);
    assert.equal(config.offline.s3.secretAccessKey, null);
    assert.equal(config.offline.s3.forcePathStyle, false);
  }
  const keyed = loadConfig({ repoDir: '/tmp', env: { GRANARY_S3_ENDPOINT: 'aws', GRANARY_S3_ACCESS_KEY_ID: 'AKIA', GRANARY_S3_SECRET_ACCESS_KEY: 'k' } });
  assert.ok(keyed.offline.kind === 's3' && keyed.offline.s3.accessKeyId === 'AKIA');
});

test('Redis Sentinel: sentinels from a YAML list or a comma-separated variable, the master name defaulting to granary', async () => {
  assert.deepEqual(loadConfig({ repoDir: '/tmp', env: {} }).online.sentinels, [], 'none by default: a plain Redis at online.url');
  const fromEnv = loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', GRANARY_REDIS_SENTINEL_MASTER: 'features' } });
  assert.deepEqual([fromEnv.online.sentinels, fromEnv.online.sentinelMaster], [['10.0.0.1:26379', '10.0.0.2:26379'], 'features']);
  const fromFile = loadConfig({ repoDir: await repoWith('online:\n  sentinels: [s1:26379, s2:26380]\n'), env: {} });
  assert.deepEqual([fromFile.online.sentinels, fromFile.online.sentinelMaster], [['s1:26379', 's2:26380'], 'granary']);
  assert.throws(() => loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_SENTINELS: 's1:26379,s2' } }), /setting 'online.sentinels' .*item 2: must be host:port, got 's2'/);
});

test('Redis Cluster: online.url redis+cluster:// with seed nodes (password masked), refused with sentinels or without a host:port', async () => {
  assert.deepEqual(loadConfig({ repoDir: '/tmp', env: {} }).online.clusterNodes, [], 'none by default: a plain Redis');
  const fromEnv = loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7001' } });
  assert.deepEqual([fromEnv.online.url, fromEnv.online.clusterNodes], ['redis+cluster://10.0.0.1:7000,10.0.0.2:7001', ['10.0.0.1:7000', '10.0.0.2:7001']]);
  const fromFile = loadConfig({ repoDir: await repoWith('online:\n  url: rediss+cluster://:pw-secret@h1:7000\n'), env: {} });
  assert.deepEqual(fromFile.online.clusterNodes, ['h1:7000']);
  assert.throws(() => loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_URL: 'redis+cluster://:pw-secret@h1:7000,h2' } }), (e: unknown) => {
    assert.match((e as Error).message, /setting 'online.url'.*seed node 2 must be host:port, got 'h2'/);
    assert.doesNotMatch((e as Error).message, /pw-secret/);
    return true;
  });
  assert.throws(() => loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_URL: 'redis+cluster://' } }), /setting 'online.url'.*names no seed node/);
  assert.throws(
    () => loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_URL: 'redis+cluster://h1:7000', GRANARY_REDIS_SENTINELS: 's1:26379' } }),
    /setting 'online.sentinels'.*a Redis Cluster .* has no sentinels/,
  );
});

test('bad configuration gets a clear error naming the setting', async () => {
  assert.throws(() => loadConfig({ repoDir: '/tmp', env: { GRANARY_SERVING_PORT: 'eighty' } }), /setting 'serving.port' .*GRANARY_SERVING_PORT.*whole number/);
  assert.throws(() => loadConfig({ repoDir: '/tmp', env: { GRANARY_REDIS_URL: 'http://x' } }), /setting 'online.url'.*redis:\/\//);
  assert.throws(() => loadConfig({ repoDir: '/tmp', env: { GRANARY_STACK_REDIS_PORT: '99999' } }), /GRANARY_STACK_REDIS_PORT must be a port/);
  const unknown = await repoWith('project: x\nonlin: {}\n');
  assert.throws(() => loadConfig({ repoDir: unknown, env: {} }), (e: unknown) => e instanceof ConfigError && /unknown setting 'onlin'/.test(e.message));
  const nested = await repoWith('temporal:\n  adress: x:1\n');
  assert.throws(() => loadConfig({ repoDir: nested, env: {} }), /unknown setting 'temporal.adress'/);
  const broken = await repoWith('project: [\n');
  assert.throws(() => loadConfig({ repoDir: broken, env: {} }), /not valid YAML/);
});

test('TLS CAs: online.tlsCa needs rediss://, offline.s3.tlsCa an https endpoint; the file must hold a PEM certificate; relative to the repo', async () => {
  const dir = await repoWith('online:\n  url: rediss://127.0.0.1:6380\n  tlsCa: ca.pem\noffline:\n  s3:\n    endpoint: https://s3.internal:9000\n    tlsCa: ca.pem\n');
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const config = loadConfig({ repoDir: dir, env: {} });
  assert.equal(config.online.tlsCa, join(dir, 'ca.pem'));
  assert.ok(config.offline.kind === 's3' && config.offline.s3.tlsCa === join(dir, 'ca.pem'));
  assert.equal(loadConfig({ repoDir: '/tmp/some-repo', env: {} }).online.tlsCa, null);
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ GRANARY_REDIS_URL: 'redis://:RdPw123@127.0.0.1:6379' }, /setting 'online\.tlsCa' \(granary\.yaml or GRANARY_REDIS_TLS_CA\): a CA is only used over TLS: online\.url must start with rediss:\/\/ \(or rediss\+cluster:\/\/\), got 'redis:\/\/:\*\*\*@127\.0\.0\.1:6379'/],
    [{ GRANARY_S3_ENDPOINT: 'http://127.0.0.1:9000' }, /setting 'offline\.s3\.tlsCa' \(granary\.yaml or GRANARY_S3_TLS_CA\): a CA is only used over TLS: offline\.s3\.endpoint must start with https:\/\/, got 'http:\/\/127\.0\.0\.1:9000'/],
    [{ GRANARY_REDIS_TLS_CA: '/nonexistent/ca.pem' }, /setting 'online\.tlsCa' \(granary\.yaml or GRANARY_REDIS_TLS_CA\): cannot read the CA file '\/nonexistent\/ca\.pem': ENOENT/],
    [{ GRANARY_S3_TLS_CA: join(dir, 'granary.yaml') }, /setting 'offline\.s3\.tlsCa' \(granary\.yaml or GRANARY_S3_TLS_CA\): '.*granary\.yaml' holds no PEM certificate/],
  ];
  for (const [env, expected] of cases) {
    assert.throws(() => loadConfig({ repoDir: dir, env }), (error: Error) => error instanceof ConfigError && expected.test(error.message) && !error.message.includes('RdPw123'));
  }
});

test('monitoring: webhooks from a YAML list or GRANARY_MONITOR_WEBHOOKS (which wins), the skew sample rate, bad values named', async () => {
  assert.deepEqual(loadConfig({ repoDir: '/tmp/some-repo', env: {} }).monitoring, { webhooks: [], skewSampleRate: 0.01 });
  const dir = await repoWith('monitoring:\n  webhooks: [https://hooks.example/a, http://10.0.0.1:9000/b]\n  skewSampleRate: 0.25\n');
  assert.deepEqual(loadConfig({ repoDir: dir, env: {} }).monitoring, { webhooks: ['https://hooks.example/a', 'http://10.0.0.1:9000/b'], skewSampleRate: 0.25 });
  const env = { GRANARY_MONITOR_WEBHOOKS: 'http://a.example/x, http://b.example/y', GRANARY_MONITOR_SKEW_SAMPLE_RATE: '0' };
  assert.deepEqual(loadConfig({ repoDir: dir, env }).monitoring, { webhooks: ['http://a.example/x', 'http://b.example/y'], skewSampleRate: 0 });
  for (const [yaml, pattern] of [
    ['monitoring:\n  webhooks: [ftp://x.example/a]\n', /setting 'monitoring\.webhooks' .*item 1: 'ftp:\/\/x\.example\/a' must start with http:\/\/ or https:\/\//],
    ['monitoring:\n  webhooks: 12\n', /setting 'monitoring\.webhooks' .*must be a list of http\(s\) URLs/],
    ['monitoring:\n  skewSampleRate: 2\n', /setting 'monitoring\.skewSampleRate' .*must be a number from 0 to 1, got 2/],
    ['monitoring:\n  webhook: [http://x]\n', /unknown setting 'monitoring\.webhook' \(known: webhooks, skewSampleRate\)/],
  ] as const) {
    const repo = await repoWith(yaml);
    assert.throws(() => loadConfig({ repoDir: repo, env: {} }), (error: Error) => error instanceof ConfigError && pattern.test(error.message));
  }
});
