import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { granary } from '../cli/cli-fixtures.ts';
import { HOUR, driverStats, servingFixture, userMerchant, userProfile, userSpend } from './serving-fixtures.ts';
import { servingConsumer } from './serving-consumer.ts';
import { startServe } from '../support/serve-process.ts';

const fixture = await servingFixture('serving_cli');
const now = Date.now();
await fixture.write(userProfile, [{ entityKey: ['u1'], values: { age: 31, country: 'FR' }, eventTime: now - HOUR, createdTime: 0 }]);
await fixture.write(userSpend, [{ entityKey: ['u1'], values: { spend_7d: 12.5, txn_count: 7n }, eventTime: now - 60_000, createdTime: 0 }]);
await fixture.write(userMerchant, [{ entityKey: ['u1', 'm1'], values: { merchant_txns: 4n }, eventTime: now - HOUR, createdTime: 0 }]);
await fixture.write(driverStats, [{ entityKey: [1001n], values: { trips: 12n }, eventTime: now - HOUR, createdTime: 0 }]);
// The commands act as a consumer granted every view (GRANARY_TOKEN; issue 18).
const consumer = await servingConsumer(fixture);
const run = (args: string[]) => granary(args, { project: fixture.config.project, env: { ...fixture.env, ...consumer.env } });

test('get-online-features prints a table, statuses beside values that are not PRESENT', async () => {
  const result = await run(['get-online-features', '--service', 'fraud_model', '--entities', '{"user_id": ["u1", "u2"], "merchant_id": ["m1", "m1"]}']);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
  assert.deepEqual(lines[0], ['user_id', 'merchant_id', 'txn_count', 'country', 'age', 'merchant_txns', 'spend_7d']);
  assert.deepEqual(lines[1], ['u1', 'm1', '7', 'FR', '31', '4', '12.5']);
  assert.deepEqual(lines[2], ['u2', 'm1', 'null (NOT_FOUND)', 'null (NOT_FOUND)', 'null (NOT_FOUND)', 'null (NOT_FOUND)', 'null (NOT_FOUND)']);
});

test("get-online-features --json prints the feature server's JSON; bad input is one error line", async () => {
  const result = await run(['get-online-features', '--features', 'driver_stats:trips,driver_stats:conv_rate', '--entities', '{"driver_id": [1001]}', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[] }[] };
  assert.deepEqual(json.metadata.feature_names, ['driver_id', 'trips', 'conv_rate']);
  assert.deepEqual(json.results.map((r) => r.values[0]), [1001, 12, null]);
  assert.deepEqual(json.results[2]!.statuses, ['NULL_VALUE']);

  const asString = await run(['get-online-features', '--features', 'driver_stats:trips', '--entities', '{"driver_id": ["1001"]}', '--json']);
  assert.equal(asString.code, 0, asString.stderr);
  assert.deepEqual((JSON.parse(asString.stdout) as { results: { values: unknown[] }[] }).results[1]!.values, [12]);
  const wrongType = await run(['get-online-features', '--features', 'driver_stats:trips', '--entities', '{"driver_id": ["abc"]}']);
  assert.equal(wrongType.code, 1);
  assert.match(wrongType.stderr, /^error: entity row 0: join key 'driver_id' is int64, got string "abc"/);
  const neither = await run(['get-online-features', '--entities', '{"driver_id": [1]}']);
  assert.match(neither.stderr, /^error: give either --service NAME or --features/);
  const badJson = await run(['get-online-features', '--service', 'driver_model', '--entities', '{driver_id: [1]}']);
  assert.match(badJson.stderr, /^error: --entities is not valid JSON/);
});

test('serve answers over HTTP and shuts down on SIGTERM with exit code 0', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...fixture.env, ...consumer.env };
  const server = await startServe(['--port', '0'], env, { timeoutMs: 20_000 });
  const { child, url } = server;
  try {
    assert.match(server.stdout(), new RegExp(`serving project '${fixture.config.project}' on http://127\\.0\\.0\\.1:\\d+`));
    const response = await fetch(`${url}/get-online-features`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consumer.token}` },
      body: JSON.stringify({ feature_service: 'driver_model', entities: { driver_id: [1001] } }),
    });
    assert.equal(response.status, 200);
    const json = (await response.json()) as { results: { values: unknown[] }[] };
    assert.deepEqual(json.results[2]!.values, [12]);
    assert.equal((await fetch(`${url}/health`)).status, 200);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, server.stderr());
    assert.match(server.stdout(), /SIGTERM: shutting down/);
  }
});
