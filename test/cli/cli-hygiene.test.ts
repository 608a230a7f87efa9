import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { maskSecrets, registerSecret } from '../../config/mask-secrets.ts';
import { granary, uniqueProject } from './cli-fixtures.ts';

/**
 * What every command owes its user whatever goes wrong (issue 12, items 11 and the smaller
 * ones): no credential printed, an option error that names the option, no AWS SDK noise, a
 * closed stdout that does not crash the process, and an unreachable offline store named as such.
 * Runs against the stack's PostgreSQL; nothing here needs Temporal or MinIO.
 */
const project = uniqueProject('hygiene');

function assertNoSecret(result: { stdout: string; stderr: string }, secret: string): void {
  const output = result.stdout + result.stderr;
  assert.ok(!output.includes(secret), `the secret '${secret}' was printed:\n${output}`);
}

test('maskSecrets masks the password of any URL shape and registered secrets', () => {
  assert.equal(maskSecrets("'postgress://app:Secret1@db:5432/x' is wrong", {}), "'postgress://app:***@db:5432/x' is wrong");
  assert.equal(maskSecrets('redis://:Secret2@10.0.0.5:6379/0', {}), 'redis://:***@10.0.0.5:6379/0');
  // A password holding '@' or '/' is masked whole.
  assert.equal(maskSecrets('postgres://app:p@ss/w0rd@db/x', {}), 'postgres://app:***@db/x');
  // A user name alone is not a secret.
  assert.equal(maskSecrets('postgres://postgres@127.0.0.1:15432/granary', {}), 'postgres://postgres@127.0.0.1:15432/granary');
  // No scheme at all: only a known secret can be recognized; the environment's are.
  assert.equal(maskSecrets('app:Secret3@db:5432', { GRANARY_POSTGRES_URL: 'app:Secret3@db:5432' }), 'app:***@db:5432');
  assert.equal(maskSecrets('key=S3cretKey!', { GRANARY_S3_SECRET_ACCESS_KEY: 'S3cretKey!' }), 'key=***');
  registerSecret('from-yaml-Secret4');
  assert.equal(maskSecrets('x from-yaml-Secret4 y', {}), 'x *** y');
});

test('a malformed or unreachable registry or Redis URL: the error names the setting, never the password', async () => {
  const cases: [Record<string, string>, string][] = [
    [{ GRANARY_POSTGRES_URL: 'postgress://app:PgSecret1@127.0.0.1:15432/granary' }, 'PgSecret1'],
    [{ GRANARY_POSTGRES_URL: 'app:PgSecret2@127.0.0.1:15432/granary' }, 'PgSecret2'],
    [{ GRANARY_POSTGRES_URL: 'postgres://app:Pg Secret3@127.0.0.1:15432/granary' }, 'Pg Secret3'],
    [{ GRANARY_POSTGRES_URL: 'postgres://app:PgSecret4@127.0.0.1:1/granary' }, 'PgSecret4'],
    [{ GRANARY_REDIS_URL: 'redis//:RdSecret1@127.0.0.1:16379' }, 'RdSecret1'],
    [{ GRANARY_REDIS_URL: 'redis://:Rd@Secret2@127.0.0.1:port' }, 'Rd@Secret2'],
    [{ GRANARY_REDIS_URL: 'http://user:RdSecret3@127.0.0.1:16379' }, 'RdSecret3'],
  ];
  for (const [env, secret] of cases) {
    // GRANARY_DEBUG=1 prints the stacks and causes too: they are masked as well.
    const result = await granary(['list'], { project, env: { ...env, GRANARY_DEBUG: '1' } });
    assert.equal(result.code, 1, `${JSON.stringify(env)}: ${result.stderr}`);
    assert.match(result.stderr, /^error: /m);
    assertNoSecret(result, secret);
  }
  const malformed = await granary(['list'], { project, env: { GRANARY_POSTGRES_URL: 'postgress://app:PgSecret1@127.0.0.1:15432/granary' } });
  assert.match(malformed.stderr, /setting 'registry\.url' \(granary\.yaml or GRANARY_POSTGRES_URL\): 'postgress:\/\/app:\*\*\*@127\.0\.0\.1:15432\/granary' must start with postgres:\/\//);
});

test('S3 down: the error names the offline store and its endpoint, never the secret key; no AWS SDK warning', async () => {
  const secret = 'S3cretAccessKey-42';
  const result = await granary(['gc', '--dry-run'], {
    project,
    env: {
      GRANARY_OFFLINE_URL: `s3://granary/tests/${project}`,
      GRANARY_S3_ENDPOINT: 'http://127.0.0.1:1',
      GRANARY_S3_ACCESS_KEY_ID: 'someone',
      GRANARY_S3_SECRET_ACCESS_KEY: secret,
      GRANARY_DEBUG: '1',
    },
  });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /^error: offline store s3:\/\/granary\/tests\/\S+: cannot reach S3 at http:\/\/127\.0\.0\.1:1 \(\w+: .*ECONNREFUSED.*\); check that S3 \(MinIO\) runs there .*GRANARY_S3_ENDPOINT/m);
  assertNoSecret(result, secret);
  assert.doesNotMatch(result.stderr, /NodeVersionSupportWarning|AWS SDK for JavaScript/);
});

test('every numeric option error names the option and the value', async () => {
  const cases: [string[], RegExp][] = [
    [['rebuild-online', '--partitions', '0'], /option '--partitions <n>' argument '0' is invalid/],
    [['rebuild-online', '--parallelism', 'two'], /option '--parallelism <n>' argument 'two' is invalid/],
    [['rebuild-online', '--retire-after', '-1'], /option '--retire-after <seconds>' argument '-1' is invalid/],
    [['ingest', 'user_spend', 'x.csv', '--view-version', 'abc'], /option '--view-version <n>' argument 'abc' is invalid/],
    [['ingest', 'user_spend', 'x.csv', '--view-version', '1.5'], /option '--view-version <n>' argument '1.5' is invalid/],
    [['migrate', 'user_spend', '--to', 'x'], /option '--to <version>' argument 'x' is invalid/],
    [['migrate', 'user_spend', '--commits-per-activity', '0'], /option '--commits-per-activity <n>' argument '0' is invalid/],
    [['migrate', 'user_spend', '--grace', 'soon'], /option '--grace <duration>' argument 'soon' is invalid/],
    [['historical', '--head', 'x'], /option '--head <n>' argument 'x' is invalid/],
    [['historical', '--memory-limit', 'lots'], /option '--memory-limit <size>' argument 'lots' is invalid/],
    [['materialize', '--worker-timeout', '0'], /option '--worker-timeout <seconds>' argument '0' is invalid/],
  ];
  for (const [args, expected] of cases) {
    const result = await granary(args, { project });
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, expected, args.join(' '));
  }
});

test('a closed stdout does not crash a command with an unhandled EPIPE', async () => {
  const bin = fileURLToPath(new URL('../../bin/granary.mjs', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env, GRANARY_PROJECT: project };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [bin, 'list'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
});
