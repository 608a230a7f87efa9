import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseToken } from '../../access/consumer-token.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';
import { granary, makeRepo, uniqueProject, type RunResult } from '../cli/cli-fixtures.ts';
import { startTlsStores, type TlsStores } from '../support/tls-stores.ts';
import { startServe } from '../support/serve-process.ts';

/**
 * Issue 18, item 6, the stores' part and the secrets: Redis (rediss://), PostgreSQL
 * (sslmode=verify-full) and MinIO (https) answering over TLS only, each with a password, their
 * certificate signed by a CA made here with openssl (test/support/tls-stores.ts). Temporal stays
 * plaintext on loopback (the shared stack's).
 * - ingest -> materialize -> verify -> serve round trip with the CA given to each store;
 * - without the CA: one line naming the store and that its certificate is not trusted, at once;
 * - everything every run printed (stdout, stderr, --json, the worker's log, the server's output,
 *   its bodies and /metrics), succeeding and failing (bad Redis password, bad S3 secret, bad
 *   PostgreSQL password; GRANARY_DEBUG=1 stacks included), is grepped for the S3 secret key, the
 *   URL passwords and the consumer's token.
 */
const project = uniqueProject('transport');
let tls: TlsStores;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let env: Record<string, string>;
let worker: WorkerProcess | undefined;
/** Every text Granary printed or answered in this file, with what printed it. */
const printed: [string, string][] = [];
let token = '';

function run(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return granary([...args, '--repo', repo.dir], { project, env: { ...env, ...extraEnv } }).then((result) => {
    printed.push([`granary ${args.join(' ')} ${JSON.stringify(extraEnv)}`, result.stdout + result.stderr]);
    return result;
  });
}

before(async () => {
  tls = await startTlsStores();
  repo = await makeRepo();
  env = {
    GRANARY_POSTGRES_URL: tls.postgresUrl,
    GRANARY_REDIS_URL: tls.redisUrl,
    GRANARY_REDIS_TLS_CA: tls.caFile,
    GRANARY_REDIS_KEY_PREFIX: `t-${project}`,
    GRANARY_OFFLINE_URL: `s3://granary/${project}`,
    GRANARY_S3_ENDPOINT: tls.s3Endpoint,
    GRANARY_S3_ACCESS_KEY_ID: tls.s3AccessKeyId,
    GRANARY_S3_SECRET_ACCESS_KEY: tls.s3SecretAccessKey,
    GRANARY_S3_TLS_CA: tls.caFile,
    GRANARY_TASK_QUEUE: `granary-test-${project}`,
    GRANARY_SERVING_AUTH: 'token',
  };
});

after(async () => {
  await worker?.kill('SIGKILL');
  await repo?.remove();
  await tls?.dispose();
});

test('over TLS to all three stores: apply, ingest, materialize, verify, status --json, get-online-features and serve round trip', async () => {
  const apply = await run(['apply']);
  assert.equal(apply.code, 0, apply.stderr);
  worker = await startWorkerProcess({ ...env, GRANARY_PROJECT: project });
  const now = Date.now();
  const lines = ['user_id,event_timestamp,spend_7d_avg,txn_count_7d'];
  for (let i = 0; i < 20; i++) lines.push(`u${i},${new Date(now - 3_600_000 + i * 1000).toISOString()},${i / 4},${i}`);
  const file = join(repo.dir, 'batch.csv');
  await writeFile(file, `${lines.join('\n')}\n`);

  const ingest = await run(['ingest', 'user_spend', file]);
  assert.equal(ingest.code, 0, ingest.stdout + ingest.stderr);
  assert.match(ingest.stdout, /user_spend: 20 rows committed as commit \d+ .*; materialized online\./);
  const materialize = await run(['materialize', '--json']);
  assert.equal(materialize.code, 0, materialize.stderr);
  const verify = await run(['verify', 'user_spend']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  const status = await run(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const [view] = JSON.parse(status.stdout) as { view: string; watermark: number; latestSeq: number; online: string }[];
  assert.equal(view?.view, 'user_spend');
  assert.equal(view.watermark, view.latestSeq);
  assert.equal(view.online, 'ok');

  const create = await run(['access', 'consumer', 'create', 'tls_reader']);
  assert.equal(create.code, 0, create.stderr);
  token = /gry_\S+/.exec(create.stdout)?.[0] ?? '';
  assert.ok(parseToken(token), create.stdout);
  printed.pop(); // the one output that prints the token, once, by design
  const grant = await run(['access', 'grant', 'tls_reader', `${project}:fraud_model`]);
  assert.equal(grant.code, 0, grant.stderr);
  const read = await run(['get-online-features', '--service', 'fraud_model', '--entities', '{"user_id": ["u4", "nobody"]}', '--json'], { GRANARY_TOKEN: token });
  assert.equal(read.code, 0, read.stderr);
  const answer = JSON.parse(read.stdout) as { results: { values: unknown[]; statuses: string[] }[] };
  assert.deepEqual(answer.results[1]?.values, [1, null]);
  assert.deepEqual(answer.results[1]?.statuses, ['PRESENT', 'NOT_FOUND']);

  // The feature server reads Redis and the registry over TLS too.
  // With a budget of 1 failed authentication a second (bursts of 10) from this address.
  const serveEnv: NodeJS.ProcessEnv = { ...process.env, ...env, GRANARY_PROJECT: project, GRANARY_SERVING_AUTH_FAILURES_PER_SECOND: '1' };
  const server = await startServe(['--port', '0', '--repo', repo.dir], serveEnv);
  const { child, url } = server;
  try {
    const post = (authorization: string) =>
      fetch(`${url}/get-online-features`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ feature_service: 'fraud_model', entities: { user_id: ['u8'] } }) });
    const ok = await post(`Bearer ${token}`);
    const okBody = await ok.text();
    assert.equal(ok.status, 200, okBody);
    assert.deepEqual((JSON.parse(okBody) as { results: { values: unknown[] }[] }).results[1]?.values, [2]);
    const refused = await post(`Bearer ${token.slice(0, -4)}AAAA`);
    assert.equal(refused.status, 401);
    // The burst of 10 failures (the refused one above was the first), then 429; a slow machine may refill one a second.
    const started = Date.now();
    let unauthorized = 0;
    while (unauthorized < 30 && (await post(`Bearer ${token}x`)).status === 401) unauthorized++;
    const seconds = (Date.now() - started) / 1000;
    assert.ok(unauthorized >= 9 && unauthorized <= 9 + Math.ceil(seconds), `${unauthorized} more 401s in ${seconds} s before a 429`);
    const limited = await post('Bearer nope');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal((await post(`Bearer ${token}`)).status, 200, 'a valid token from the same address is still served');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /granary_serving/);
    assert.match(metrics, /^granary_serving_auth_rate_limited_total 2$/m);
    printed.push(['the feature server: bodies and /metrics', `${okBody}\n${await refused.text()}\n${await limited.text()}\n${metrics}`]);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  printed.push(['granary serve', server.output()]);
});

test('without the CA, each store fails with one line naming it and saying its certificate is not trusted, as soon as it succeeds with it', async () => {
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['PostgreSQL', ['list'], { GRANARY_POSTGRES_URL: tls.postgresUrlWithoutCa }, /^error: cannot reach the registry at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/granary\?sslmode=verify-full: its TLS certificate is not trusted \(\w+: [^)]+\); give the CA that signed it in the URL: \?sslmode=verify-full&sslrootcert=/m],
    ['Redis', ['get-online-features', '--service', 'fraud_model', '--entities', '{"user_id": ["u1"]}'], { GRANARY_REDIS_TLS_CA: '', GRANARY_SERVING_AUTH: 'none' }, /^error: online store: Redis at rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+ failed \(\w+\): its TLS certificate is not trusted \(\w+: [^)]+\); give the CA that signed it with online\.tlsCa \(GRANARY_REDIS_TLS_CA\)/m],
    ['S3', ['gc', '--dry-run'], { GRANARY_S3_TLS_CA: '' }, /^error: offline store s3:\/\/granary\/\S+: S3 at https:\/\/127\.0\.0\.1:\d+ cannot be trusted: its TLS certificate is not trusted \(\w+: [^)]+\) \(\w+\); give the CA that signed it with offline\.s3\.tlsCa \(GRANARY_S3_TLS_CA\)/m],
  ];
  for (const [store, args, extraEnv, expected] of cases) {
    // No hang, on a machine of any load: failing takes about as long as the same command succeeding with the CA.
    let started = Date.now();
    const succeeding = await run(args, { GRANARY_SERVING_AUTH: 'none' });
    const reference = (Date.now() - started) / 1000;
    assert.equal(succeeding.code, 0, `${store}, with the CA: ${succeeding.stdout}${succeeding.stderr}`);
    started = Date.now();
    const result = await run(args, extraEnv);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.code, 1, `${store}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, expected, store);
    assert.doesNotMatch(result.stderr, /^\s+at /m, `${store}: a stack trace without GRANARY_DEBUG`);
    assert.ok(seconds < reference + 10, `${store}: took ${seconds} s to fail, ${reference} s to succeed`);
  }
});

test('bad credentials: a wrong Redis password in the URL, a wrong S3 secret, a wrong PostgreSQL password fail naming the store', async () => {
  const wrong = { redis: 'WrongRedisPw-9f3k2', s3: 'WrongS3Secret-7q1x', postgres: 'WrongPgPw-4m8z' };
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['get-online-features', '--service', 'fraud_model', '--entities', '{"user_id": ["u1"]}'], { GRANARY_REDIS_URL: tls.redisUrl.replace(tls.redisPassword, wrong.redis), GRANARY_SERVING_AUTH: 'none' }, /^error: online store: Redis at rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+ failed/m],
    [['ingest', 'user_spend', join(repo.dir, 'batch.csv')], { GRANARY_S3_SECRET_ACCESS_KEY: wrong.s3 }, /^error: offline store s3:\/\/granary\/\S+: S3 at https:\/\/127\.0\.0\.1:\d+ refused the credentials/m],
    [['status', '--json'], { GRANARY_POSTGRES_URL: tls.postgresUrl.replace(tls.postgresPassword, wrong.postgres) }, /^error: cannot reach the registry at postgres:\/\/postgres:\*\*\*@/m],
  ];
  for (const [args, extraEnv, expected] of cases) {
    for (const debug of [{}, { GRANARY_DEBUG: '1' }] as Record<string, string>[]) {
      const result = await run(args, { ...extraEnv, ...debug });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, expected, args.join(' '));
      for (const secret of Object.values(wrong)) assert.ok(!(result.stdout + result.stderr).includes(secret), `${args.join(' ')} printed '${secret}':\n${result.stderr}`);
    }
  }
});

test('no secret in anything printed: S3 secret key, URL passwords, the token or its secret', async () => {
  assert.ok(worker, 'the round trip ran');
  printed.push(['granary worker', worker.output()]);
  const secret = parseToken(token)?.secret ?? '';
  const secrets = [tls.s3SecretAccessKey, tls.redisPassword, tls.postgresPassword, token, secret, secret.slice(0, 20)];
  assert.ok(printed.length > 15, `only ${printed.length} outputs collected`);
  for (const [what, text] of printed) {
    for (const s of secrets) assert.ok(s.length > 8 && !text.includes(s), `${what} printed a secret:\n${text.slice(0, 3000)}`);
  }
});
