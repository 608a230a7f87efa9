import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tableFromArrays } from 'apache-arrow';
import { loadConfig } from '../../config/granary-config.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { checkOfflineHome, OfflineHomeMismatchError, OfflineHomeUnknownError, offlineHomeOf, sameOfflineHome } from '../../stores/offline-home.ts';
import { LocalOfflineStore } from '../../stores/offline/local-offline-store.ts';
import { openStores } from '../../stores/open-stores.ts';
import { granary, makeRepo } from '../cli/cli-fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';
import { openRegistry, repoOf, spendView, uniqueProject } from './registry-fixtures.ts';

/**
 * A project's data has one home (DESIGN.md invariant 10): its first apply records where its
 * offline data lives, and a process configured with another offline store (a second checkout,
 * a worker on another disk) is refused, naming both locations, before it reads or writes.
 */
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
});

/** Two checkouts of one feature repo: folders whose relative `.granary/offline` are different absolute paths. */
async function twoCheckouts(): Promise<{ repo: string; a: string; b: string }> {
  const repo = await makeRepo();
  cleanups.push(repo.remove);
  return { repo: repo.dir, a: await tempDir('checkout-a'), b: await tempDir('checkout-b') };
}

const RELATIVE = { GRANARY_OFFLINE_URL: '.granary/offline' };

test('the first apply records the offline home (a local folder as an absolute path); the same configuration passes again', async () => {
  const project = uniqueProject('home_first');
  const { repo, a } = await twoCheckouts();
  const registry = await openRegistry(project);
  cleanups.push(() => registry.close());
  assert.equal(await registry.offlineHome(), undefined);

  const first = await granary(['apply', '--repo', repo], { project, cwd: a, env: RELATIVE });
  assert.equal(first.code, 0, first.stderr);
  const home = await registry.offlineHome();
  assert.deepEqual({ ...home, recordedAt: undefined }, { kind: 'local', url: join(a, '.granary', 'offline'), s3Endpoint: null, s3Bucket: null, recordedAt: undefined });
  assert.ok(existsSync(join(a, '.granary', 'offline')), 'the first apply creates the folder');

  const again = await granary(['apply', '--repo', repo], { project, cwd: a, env: RELATIVE });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /no changes/);
  // The same folder written as an absolute path, with a trailing '/', is the same home.
  const store = await FeatureStore.open({ config: loadConfig({ repoDir: repo, env: { ...process.env, GRANARY_PROJECT: project, GRANARY_OFFLINE_URL: `${a}/.granary/offline/` } }) });
  await store.close();
  assert.deepEqual(await registry.offlineHome(), home, 'a later process records nothing');
});

test('a second checkout pointed at the same registry is refused, naming both locations: apply, ingest, the SDK and the worker', async () => {
  const project = uniqueProject('home_second');
  const { repo, a, b } = await twoCheckouts();
  const first = await granary(['apply', '--repo', repo], { project, cwd: a, env: RELATIVE });
  assert.equal(first.code, 0, first.stderr);
  const recorded = join(a, '.granary', 'offline');
  const other = join(b, '.granary', 'offline');
  const csv = join(b, 'spend.csv');
  await writeFile(csv, `user_id,event_timestamp,spend_7d_avg,txn_count_7d\nu1,${new Date(Date.now() - 3600_000).toISOString()},12.5,3\n`);

  const refusal = new RegExp(
    `^error: project '${project}' keeps its offline data in ${escape(recorded)} \\(recorded by its first apply\\), ` +
      `but this process is configured with ${escape(other)}: set GRANARY_OFFLINE_URL \\(offline\\.url in granary\\.yaml\\) to ${escape(recorded)}\\n$`,
  );
  for (const args of [
    ['apply', '--repo', repo],
    ['ingest', 'user_spend', csv, '--repo', repo],
    ['historical', '--end', new Date().toISOString(), '--service', 'fraud_model', '--out', join(b, 'out.parquet'), '--repo', repo],
    ['worker', '--repo', repo],
  ]) {
    const result = await granary(args, { project, cwd: b, env: RELATIVE });
    assert.equal(result.code, 1, `granary ${args[0]}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, refusal, `granary ${args[0]}`);
  }
  assert.equal(existsSync(other), false, "nothing was written in the second checkout's folder");

  const config = loadConfig({ repoDir: repo, env: { ...process.env, GRANARY_PROJECT: project, GRANARY_OFFLINE_URL: other } });
  await assert.rejects(FeatureStore.open({ config }), (error: Error) => {
    assert.ok(error instanceof OfflineHomeMismatchError);
    assert.ok(error.message.includes(recorded) && error.message.includes(other), error.message);
    return true;
  });
});

test('a worker serving several projects checks each when it first touches its offline data', async () => {
  const homeProject = uniqueProject('home_worker_a');
  const newProject = uniqueProject('home_worker_b');
  const recordedDir = await tempDir('home-recorded');
  const workerDir = await tempDir('home-worker');
  const owner = await openRegistry(homeProject);
  cleanups.push(() => owner.close());
  await checkOfflineHome(owner, { kind: 'local', path: recordedDir }, { record: true });

  // The worker's configuration names neither project: it learns them from the activities it runs.
  const stores = openStores(loadConfig({ repoDir: process.cwd(), env: { ...process.env, GRANARY_PROJECT: 'default', GRANARY_OFFLINE_URL: workerDir } }));
  cleanups.push(() => stores.close());
  const table = tableFromArrays({ user_id: ['u1'], spend: Float64Array.from([1]) });
  await assert.rejects(stores.offline.writeTable(`${homeProject}/_staging/user_spend/v1/b1.parquet`, table), (error: Error) => {
    assert.ok(error instanceof OfflineHomeMismatchError, error.message);
    assert.ok(error.message.includes(recordedDir) && error.message.includes(workerDir), error.message);
    return true;
  });
  await assert.rejects(stores.offline.exists(`${homeProject}/user_spend/v1/date=2024-05-01/b1.parquet`), OfflineHomeMismatchError);
  assert.equal(existsSync(join(workerDir, homeProject)), false, 'the refused project was not touched');

  // A project with no home yet: the first touch records the worker's store, and proceeds.
  await stores.offline.writeTable(`${newProject}/_staging/user_spend/v1/b1.parquet`, table);
  assert.equal((await stores.registry(newProject).offlineHome())?.url, workerDir);
  assert.ok(existsSync(join(workerDir, newProject, '_staging', 'user_spend', 'v1', 'b1.parquet')));
});

test('a registry that recorded nothing: the first process records its location, unless the committed data is not there', async () => {
  const project = uniqueProject('home_legacy');
  const dataDir = await tempDir('home-legacy-data');
  const elsewhere = await tempDir('home-legacy-elsewhere');
  // A project applied and committed before homes were recorded.
  const registry = await openRegistry(project);
  cleanups.push(() => registry.close());
  await registry.apply(repoOf(spendView()));
  const key = `${project}/user_spend/v1/date=2024-05-01/b1.parquet`;
  const data = new LocalOfflineStore({ path: dataDir });
  await data.writeTable(key, tableFromArrays({ user_id: ['u1'] }));
  const now = new Date();
  await registry.commit({
    view: 'user_spend',
    version: 1,
    batchId: 'b1',
    schemaVersion: 1,
    objects: [{ key, rowCount: 1, minEventTime: now, maxEventTime: now, checksum: 'x', bytes: 1 }],
  });

  await assert.rejects(checkOfflineHome(registry, { kind: 'local', path: elsewhere }, { record: true }), (error: Error) => {
    assert.ok(error instanceof OfflineHomeUnknownError, error.message);
    assert.ok(error.message.includes(key) && error.message.includes(elsewhere) && error.message.includes('GRANARY_OFFLINE_URL'), error.message);
    return true;
  });
  assert.equal(await registry.offlineHome(), undefined, 'a store without the data is not recorded');

  const home = await checkOfflineHome(registry, { kind: 'local', path: dataDir }, { record: true });
  assert.equal(home?.url, dataDir);
  assert.equal((await registry.offlineHome())?.url, dataDir);
});

test('S3 homes compare bucket, prefix and endpoint (normalized), never credentials', () => {
  const s3 = (prefix: string, endpoint: string | null, secret = 'one') =>
    offlineHomeOf({ kind: 's3', bucket: 'granary', prefix, s3: { endpoint, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: secret, forcePathStyle: true } });
  const home = s3('offline', 'http://127.0.0.1:19000');
  assert.deepEqual(home, { kind: 's3', url: 's3://granary/offline', s3Endpoint: 'http://127.0.0.1:19000', s3Bucket: 'granary' });
  assert.ok(sameOfflineHome(home, s3('/offline/', 'http://127.0.0.1:19000/', 'another secret')));
  assert.ok(!sameOfflineHome(home, s3('offline2', 'http://127.0.0.1:19000')));
  assert.ok(!sameOfflineHome(home, s3('offline', 'http://10.0.0.7:9000')));
  assert.ok(!sameOfflineHome(home, s3('offline', null)));
  assert.ok(!JSON.stringify(home).includes('one'));
  const mismatch = new OfflineHomeMismatchError('fraud', home, s3('offline', 'http://10.0.0.7:9000'));
  assert.match(mismatch.message, /GRANARY_OFFLINE_URL .* to s3:\/\/granary\/offline and GRANARY_S3_ENDPOINT \(offline\.s3\.endpoint\) to http:\/\/127\.0\.0\.1:19000$/);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
