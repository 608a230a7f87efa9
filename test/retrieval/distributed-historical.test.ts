import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../../definitions/index.ts';
import { seededRandom } from '../../definitions/examples/seeded-random.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import type { HistoricalProgress } from '../../workflows/contracts.ts';
import { encodeParquet } from '../../stores/offline/encode-parquet.ts';
import { HISTORICAL_RESULTS_FOLDER, HISTORICAL_SCRATCH_FOLDER } from '../../retrieval/historical-scratch.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';
import { historicalFixture, typedTable } from './historical-fixtures.ts';

/**
 * `granary historical --distributed` across real worker processes (issue 16, item 3): the
 * training set split into entity-hash partitions, each joined by whichever worker takes it, merged
 * into the input's order. Every test ends by comparing the output with the in-process path's,
 * row for row, read back with DuckDB (which also checks the declared types), and by checking
 * that the run left no scratch behind.
 */
const MIN = 60_000;
const T0 = Date.UTC(2024, 4, 1);
const random = seededRandom(16_003);
const int = (n: number): number => Math.floor(random() * n);
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
const spend = featureView({
  name: 'spend',
  entities: [user],
  source: parquetSource({ name: 'spend_src', path: 'data/spend', createdTimestampColumn: 'created_timestamp' }),
  schema: [
    { name: 'amount', type: 'float32' },
    { name: 'count', type: 'int64' },
    { name: 'last_seen', type: 'timestamp' },
  ],
  ttl: 90 * 60,
});
const tier = featureView({
  name: 'tier',
  entities: [user],
  source: parquetSource({ name: 'tier_src', path: 'data/tier' }),
  schema: [{ name: 'level', type: 'string' }],
  ttl: '1d',
});
const features = ['spend:amount', 'spend:count', 'spend:last_seen', 'tier:level'];
const fixture = await historicalFixture('pit_distributed', buildFeatureRepo('.', [{ definition: spend }, { definition: tier }]), { s3: true });
const dir = await tempDir('historical-distributed');
const labels = join(dir, 'labels.parquet');
let store: FeatureStore;
const workers: WorkerProcess[] = [];
after(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await store?.close();
});

before(async () => {
  store = await FeatureStore.open({ config: fixture.config });
  for (let batch = 0; batch < 4; batch++) {
    const rows = Array.from({ length: 1500 }, () => {
      const event = T0 + int(600) * MIN;
      return {
        user_id: BigInt(int(800)),
        event_timestamp: event,
        created_timestamp: random() < 0.1 ? null : event + int(3) * MIN,
        amount: random() < 0.1 ? null : int(4000) / 8,
        count: BigInt(int(100)),
        last_seen: event - int(60) * MIN,
      };
    });
    await fixture.commitRows('spend', rows, { batchId: `s${batch}`, objects: 2 });
    await fixture.commitRows('tier', rows.slice(0, 400).map((r) => ({ user_id: r.user_id, event_timestamp: r.event_timestamp, level: `L${int(5)}` })), { batchId: `t${batch}` });
  }
  const n = 3000;
  const base = Array.from({ length: n }, () => ({ user_id: BigInt(int(900)), event_timestamp: T0 + int(700) * MIN }));
  const rows = [...base, ...base.slice(0, 200)].sort(() => random() - 0.5); // duplicates kept
  const table = typedTable([
    { name: 'user_id', type: 'int64', values: rows.map((r) => r.user_id) },
    { name: 'event_timestamp', type: 'timestamp', values: rows.map((r) => r.event_timestamp) },
    { name: 'label', type: 'int32', values: rows.map((_, i) => i) },
  ]);
  await writeFile(labels, await encodeParquet(table));
});

async function startWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = await startWorkerProcess({ ...fixture.env, GRANARY_LOG_LEVEL: 'INFO', ...env }, ['--max-activities', '1']);
  workers.push(worker);
  return worker;
}

/** A Parquet file read back by DuckDB: its column types and its rows (as JSON text, one per row, in file order). */
async function readBack(path: string): Promise<{ types: Record<string, string>; rows: string[] }> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).getRowObjects();
    const rows = (await connection.runAndReadAll(`SELECT * FROM read_parquet('${path}')`)).getRowObjectsJson();
    return { types: Object.fromEntries(described.map((r) => [String(r.column_name), String(r.column_type)])), rows: rows.map((r) => JSON.stringify(r)) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function inProcess(name: string, options: Parameters<FeatureStore['writeHistoricalFeatures']>[0]): Promise<{ types: Record<string, string>; rows: string[] }> {
  const out = join(dir, name);
  const summary = await store.writeHistoricalFeatures({ ...options, distributed: false }, out);
  assert.equal(summary.workflowId, null);
  return readBack(out);
}

async function assertNoScratch(): Promise<void> {
  for (const folder of [HISTORICAL_SCRATCH_FOLDER, HISTORICAL_RESULTS_FOLDER]) {
    const left: string[] = [];
    for await (const object of fixture.offline.list(`${fixture.config.project}/${folder}/`)) left.push(object.key);
    assert.deepEqual(left, [], `the run left ${folder} behind`);
  }
}

const EXPECTED_TYPES = {
  user_id: 'BIGINT',
  event_timestamp: 'TIMESTAMP WITH TIME ZONE',
  label: 'INTEGER',
  amount: 'FLOAT',
  count: 'BIGINT',
  last_seen: 'TIMESTAMP WITH TIME ZONE',
  level: 'VARCHAR',
};

test('two worker processes share a distributed training set: both take partitions, and the output equals the in-process one row for row, with the declared types', async () => {
  const a = await startWorker();
  const b = await startWorker();
  const progress: HistoricalProgress[] = [];
  const out = join(dir, 'distributed.parquet');
  const summary = await store.writeHistoricalFeatures(
    { entitiesFile: labels, features, distributed: true, partitions: 6, parallelism: 2, onRunProgress: (p) => progress.push(p) },
    out,
  );
  assert.match(summary.workflowId ?? '', new RegExp(`^historical/${fixture.config.project}/[0-9a-f]{20}$`));
  assert.equal(summary.partitions, 6);
  assert.equal(summary.rows, 3200);
  const partitionLine = /historical run '[0-9a-f]+', partition \d: starting/;
  assert.match(a.output(), partitionLine, `worker a joined no partition:\n${a.output()}`);
  assert.match(b.output(), partitionLine, `worker b joined no partition:\n${b.output()}`);
  assert.ok(progress.some((p) => p.state === 'joining' && p.partitions === 6), 'progress showed the partitions');

  const distributed = await readBack(out);
  const local = await inProcess('local.parquet', { entitiesFile: labels, features });
  assert.deepEqual(distributed.types, EXPECTED_TYPES);
  assert.deepEqual(local.types, EXPECTED_TYPES);
  assert.equal(distributed.rows.length, 3200);
  assert.deepEqual(distributed.rows, local.rows, 'the same rows in the same order');
  assert.ok(distributed.rows.filter((r) => JSON.parse(r).amount !== null).length > 1000, 'the data matches many labels');
  await assertNoScratch();
});

test('a worker SIGKILLed mid-partition: the partition is retried on the other worker and the output is the same, row for row', async () => {
  await Promise.all(workers.splice(0).map((w) => w.kill('SIGKILL')));
  const doomed = await startWorker({ GRANARY_FAILPOINTS: 'mid-historical-partition' });
  const rescuer = await startWorker();
  const out = join(dir, 'after-kill.parquet');
  const summary = await store.writeHistoricalFeatures({ entitiesFile: labels, features, distributed: true, partitions: 4, parallelism: 2 }, out);
  assert.equal(summary.partitions, 4);
  assert.equal(await doomed.exited, 'SIGKILL', `the armed worker was not killed:\n${doomed.output()}`);
  assert.match(doomed.output(), /failpoint 'mid-historical-partition' reached/);
  assert.match(rescuer.output(), /historical run '[0-9a-f]+', partition \d: starting/);
  const local = await inProcess('local-2.parquet', { entitiesFile: labels, features });
  assert.deepEqual((await readBack(out)).rows, local.rows);
  await assertNoScratch();
});

test('granary historical --distributed: a snapshot (--end) across workers, to an s3:// URL, equals the in-process snapshot', async () => {
  if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) await startWorker();
  await startWorker();
  const end = new Date(T0 + 500 * MIN).toISOString();
  const key = `${fixture.config.project}-exports/snapshot.parquet`;
  const result = await granary(
    ['historical', '--end', end, '--features', features.join(','), '--distributed', '--partitions', '3', '--out', `s3://granary/${key}`, '--json'],
    { project: fixture.config.project, cwd: dir, env: fixture.env },
  );
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as { rows: number; partitions: number; workflowId: string };
  assert.equal(summary.partitions, 3);
  assert.match(summary.workflowId, /^historical\//);
  const exported = join(dir, 'snapshot-from-s3.parquet');
  const { createOfflineStore } = await import('../../stores/offline/create-offline-store.ts');
  const bucket = createOfflineStore({ ...(fixture.config.offline as Extract<typeof fixture.config.offline, { kind: 's3' }>), prefix: '' });
  await writeFile(exported, await bucket.getBytes(key));
  await bucket.delete(key);
  await bucket.close();
  const distributed = await readBack(exported);
  const local = await inProcess('snapshot-local.parquet', { end, features });
  assert.equal(distributed.rows.length, summary.rows);
  assert.ok(summary.rows > 500, `${summary.rows} entities in the snapshot`);
  assert.deepEqual(distributed.types, Object.fromEntries(Object.entries(EXPECTED_TYPES).filter(([k]) => k !== 'label')), 'a snapshot: the keys, the time, the features');
  assert.deepEqual(distributed.rows, local.rows);
  await assertNoScratch();
});

test('bad input across workers: an unknown feature is refused before anything starts; a bad entity row fails the run at once, naming the row, with nothing left behind', async () => {
  if (!workers.some((w) => w.child.exitCode === null && w.child.signalCode === null)) await startWorker();
  await assert.rejects(
    store.writeHistoricalFeatures({ entitiesFile: labels, features: ['spend:nope'], distributed: true }, join(dir, 'never.parquet')),
    /feature view 'spend' has no feature 'nope'/,
  );
  const bad = join(dir, 'bad-labels.csv');
  await writeFile(bad, ['user_id,event_timestamp', `1,${new Date(T0).toISOString()}`, `2,${new Date(T0).toISOString()}`, '3,not a time'].join('\n'));
  const started = Date.now();
  await assert.rejects(store.writeHistoricalFeatures({ entitiesFile: bad, features, distributed: true }, join(dir, 'never.parquet')), (error: Error) => {
    assert.match(error.message, /^historical run historical\/[^ ]+ failed: .*row 3.*event_timestamp/);
    return true;
  });
  assert.ok(Date.now() - started < 60_000, 'not retried');
  await assertNoScratch();
});
