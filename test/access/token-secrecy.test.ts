import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { parseToken } from '../../access/consumer-token.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { servingConsumer } from '../serving/serving-consumer.ts';
import { servingFixture, userProfile } from '../serving/serving-fixtures.ts';
import { startServe } from '../support/serve-process.ts';

/**
 * Issue 18, item 6 (tokens): a consumer's token, or any part of its secret, never appears in what
 * Granary prints, succeeding or failing, nor in the feature server's output, its error bodies or
 * /metrics; neither do the wrong tokens a client sends. Everything printed is collected and grepped.
 * (Passwords in URLs and the S3 secret: test/cli/cli-hygiene.test.ts.)
 */
const fixture = await servingFixture('token_secrecy');
await fixture.write(userProfile, [{ entityKey: ['u1'], values: { age: 31, country: 'FR' }, eventTime: Date.now() - 60_000, createdTime: 0 }]);
const consumer = await servingConsumer(fixture);
const secret = parseToken(consumer.token)!.secret;
const wrongSecret = `${consumer.token.slice(0, -4)}AAAA`;
const garbage = `${consumer.token}-and-more`;
const secrets = [consumer.token, secret, secret.slice(0, 20), wrongSecret, garbage];

function assertClean(what: string, output: string): void {
  for (const s of secrets) assert.ok(!output.includes(s), `${what} printed a token or its secret:\n${output.slice(0, 2000)}`);
}

test('no command prints the token, succeeding or failing (GRANARY_DEBUG=1 stacks included)', async () => {
  const env = { ...fixture.env, ...consumer.env };
  const runs: [string[], Record<string, string>, number][] = [
    [['get-online-features', '--features', 'user_profile:age', '--entities', '{"user_id": ["u1"]}', '--json'], {}, 0],
    [['access', 'list'], {}, 0],
    [['access', 'history', '--json'], {}, 0],
    [['access', 'consumer', 'list', '--json'], {}, 0],
    [['describe', 'user_profile'], {}, 0],
    [['get-online-features', '--features', 'user_profile:nope', '--entities', '{"user_id": ["u1"]}'], { GRANARY_DEBUG: '1' }, 1],
    [['get-online-features', '--features', 'user_profile:age', '--entities', '{"user_id": ["u1"]}'], { GRANARY_TOKEN: wrongSecret, GRANARY_DEBUG: '1' }, 1],
    [['get-online-features', '--features', 'user_profile:age', '--entities', '{"user_id": ["u1"]}'], { GRANARY_TOKEN: garbage, GRANARY_DEBUG: '1' }, 1],
    [['historical', '--features', 'nope:x', '--end', '2025-01-01', '--out', '/tmp/never.parquet'], { GRANARY_DEBUG: '1' }, 1],
  ];
  for (const [args, extra, code] of runs) {
    const result = await granary(args, { project: fixture.config.project, env: { ...env, ...extra } });
    assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
    assertClean(`granary ${args.join(' ')}`, result.stdout + result.stderr);
  }
});

test('the feature server prints no token, and neither do its 401 and 403 bodies or /metrics', async () => {
  const server = await startServe(['--port', '0'], { ...process.env, ...fixture.env, ...consumer.env });
  const { child, url } = server;
  try {
    const post = async (authorization: string, features: string[]) => {
      const response = await fetch(`${url}/get-online-features`, { method: 'POST', headers: { authorization }, body: JSON.stringify({ features, entities: { user_id: ['u1'] } }) });
      return `${response.status} ${await response.text()}`;
    };
    const bodies = [
      await post(`Bearer ${consumer.token}`, ['user_profile:age']),
      await post(`Bearer ${consumer.token}`, ['user_profile:nope']),
      await post(`Bearer ${wrongSecret}`, ['user_profile:age']),
      await post(`Bearer ${garbage}`, ['user_profile:age']),
      await post(garbage, ['user_profile:age']),
      await (await fetch(`${url}/metrics`)).text(),
    ];
    assert.match(bodies[0]!, /^200 /);
    assert.match(bodies[2]!, /^401 /);
    for (const body of bodies) assertClean('the feature server', body);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  assertClean('granary serve', server.output());
});
