import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Float64, Int64, Table, TimestampMillisecond, tableToIPC, vectorFromArray } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { checkJoinValue } from '../../serving/entity-columns.ts';
import { FeatureServer } from '../../serving/feature-server.ts';
import { ServingError } from '../../serving/serving-error.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { tempDir } from '../support/temp-dir.ts';
import { testConfig } from '../support/test-config.ts';
import { startWorkerProcess } from '../../scripts/worker-process.ts';
import { servingConsumer } from './serving-consumer.ts';

/**
 * int64 join keys beyond 2^53 (issue 12, item 10): 9007199254740993 and 9007199254740992 are two
 * entities, but the same JSON number. Ingested from a Parquet int64 column, they are read back
 * exactly by the decimal string form (HTTP, SDK, CLI); a JSON number beyond 2^53 is refused.
 */
const BIG = 9007199254740993n;
const NEXT_DOWN = 9007199254740992n;
const key = { name: 'account_id', type: 'int64' as const };

test('an int64 key: a safe number, a bigint or a decimal string; a rounded number or a non-decimal string refused, naming row and key', () => {
  assert.equal(checkJoinValue(42, key, 0), 42);
  assert.equal(checkJoinValue(BIG, key, 0), BIG);
  assert.equal(checkJoinValue('9007199254740993', key, 0), BIG);
  assert.equal(checkJoinValue('-9223372036854775808', key, 0), -(2n ** 63n));
  const refused = (value: unknown, message: RegExp) =>
    assert.throws(() => checkJoinValue(value, key, 3), (error: unknown) => error instanceof ServingError && error.code === 'INVALID_ENTITY_KEY' && message.test(error.message));
  refused(JSON.parse('9007199254740993'), /^entity row 3: join key 'account_id' \(int64\) value 9007199254740992 is beyond 2\^53, where a JSON number is not exact .*send the key as a decimal string/);
  refused('9223372036854775808', /entity row 3: join key 'account_id' \(int64\) value 9223372036854775808 is outside int64's range/);
  for (const text of ['', '12a', '1.5', '1e3', ' 7', '+7', '0x10']) refused(text, /entity row 3: join key 'account_id' is int64, got string .* \(not a decimal integer\)/);
});

test('ingested from Parquet int64, read back exactly over HTTP, the SDK and the CLI with the string form', async (t) => {
  const { config, env } = testConfig('int64_keys');
  const account = entity({ name: 'account', joinKey: 'account_id', valueType: 'int64' });
  const balances = featureView({
    name: 'account_balance',
    entities: [account],
    source: parquetSource({ name: 'balances', path: 'data/balances' }),
    schema: [{ name: 'balance', type: 'float64' }],
    ttl: '1d',
  });
  const repo = buildFeatureRepo('.', [{ definition: balances }, { definition: featureService({ name: 'risk_model', features: [balances] }) }]);
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  await registry.apply(repo);
  const worker = await startWorkerProcess(env);
  const store = await FeatureStore.open({ config });
  const online = new RedisOnlineStore({ url: config.online.url, keyPrefix: config.online.keyPrefix });
  const consumer = await servingConsumer({ config, registry });
  const server = new FeatureServer({ registry, online, access: consumer.access, maxEntities: 100 });
  t.after(async () => {
    await server.close();
    await worker.kill('SIGKILL');
    await Promise.allSettled([store.close(), online.close(), registry.close()]);
  });

  // A Parquet file with an int64 key column, as another engine would write it.
  const dir = await tempDir('int64-keys');
  const file = join(dir, 'balances.parquet');
  const now = Date.now() - 60_000;
  const table = new Table({
    account_id: vectorFromArray([BIG, NEXT_DOWN, 7n], new Int64()),
    event_timestamp: vectorFromArray([now, now, now], new TimestampMillisecond()),
    balance: vectorFromArray([1.5, 2.5, 3.5], new Float64()),
  });
  await writeFile(file, parquet.writeParquet(parquet.Table.fromIPCStream(tableToIPC(table, 'stream'))));

  const ingest = await granary(['ingest', 'account_balance', file, '--json'], env);
  assert.equal(ingest.code, 0, ingest.stderr);
  assert.equal(JSON.parse(ingest.stdout).materialized, true, ingest.stdout);

  // HTTP, Feast's shape: the string form reads each entity; keys beyond 2^53 come back as strings.
  const url = await server.listen({ port: 0 });
  const post = async (body: string) => {
    const response = await fetch(`${url}/get-online-features`, { method: 'POST', headers: consumer.headers, body });
    return { status: response.status, json: (await response.json()) as { results: { values: unknown[]; statuses: string[] }[]; code?: string; message?: string } };
  };
  const read = await post('{"feature_service": "risk_model", "entities": {"account_id": ["9007199254740993", "9007199254740992", 7, "8"]}}');
  assert.equal(read.status, 200, JSON.stringify(read.json));
  assert.deepEqual(read.json.results[0]!.values, ['9007199254740993', '9007199254740992', 7, 8]);
  assert.deepEqual(read.json.results[1]!.values, [1.5, 2.5, 3.5, null]);
  assert.deepEqual(read.json.results[1]!.statuses, ['PRESENT', 'PRESENT', 'PRESENT', 'NOT_FOUND']);

  // The JSON number is refused (it parses as ...992, another entity), not read rounded.
  const rounded = await post('{"feature_service": "risk_model", "entities": {"account_id": [9007199254740993]}}');
  assert.equal(rounded.status, 400);
  assert.equal(rounded.json.code, 'INVALID_ENTITY_KEY');
  assert.match(rounded.json.message ?? '', /entity row 0: join key 'account_id' \(int64\) value 9007199254740992 is beyond 2\^53.*decimal string/);

  // The SDK: a string or a bigint; the entity comes back as a bigint.
  const sdk = await store.getOnlineFeatures({ featureService: 'risk_model', entityRows: [{ account_id: '9007199254740993' }, { account_id: NEXT_DOWN }] });
  assert.deepEqual(sdk.rows.map((r) => [r.entity.account_id, r.values[0], r.statuses[0]]), [
    [BIG, 1.5, 'PRESENT'],
    [NEXT_DOWN, 2.5, 'PRESENT'],
  ]);

  // The CLI, as a table and as the server's JSON.
  const cli = await granary(['get-online-features', '--service', 'risk_model', '--entities', '{"account_id": ["9007199254740993"]}'], env);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^account_id\s+balance\n9007199254740993\s+1\.5\n$/);
  const cliJson = await granary(['get-online-features', '--service', 'risk_model', '--entities', '{"account_id": ["9007199254740993"]}', '--json'], env);
  assert.equal(cliJson.code, 0, cliJson.stderr);
  assert.deepEqual(JSON.parse(cliJson.stdout).results.map((r: { values: unknown[] }) => r.values), [['9007199254740993'], [1.5]]);
  const cliRounded = await granary(['get-online-features', '--service', 'risk_model', '--entities', '{"account_id": [9007199254740993]}'], env);
  assert.equal(cliRounded.code, 1);
  assert.match(cliRounded.stderr, /^error: .*join key 'account_id' \(int64\) value 9007199254740992 is beyond 2\^53.*decimal string/);
});

function granary(args: readonly string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/granary.mjs', ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
