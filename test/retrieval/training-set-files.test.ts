import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../../definitions/index.ts';
import { writeHistoricalFeatures } from '../../retrieval/historical-features.ts';
import { encodeParquet } from '../../stores/offline/encode-parquet.ts';
import { tempDir } from '../support/temp-dir.ts';
import { historicalFixture, typedTable } from './historical-fixtures.ts';

/**
 * Training sets as files: the output Parquet keeps every declared type, so other engines read it
 * as is (checked by reading it back with DuckDB); bad entity files are refused with errors that
 * name the file, the column and the row.
 */
const H = 3_600_000;
const T = Date.UTC(2024, 4, 1, 12);
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
const typed = featureView({
  name: 'typed',
  entities: [user],
  source: parquetSource({ name: 'typed_source', path: 'data/typed', createdTimestampColumn: 'created_timestamp' }),
  schema: [
    { name: 'b', type: 'bool' },
    { name: 'i32', type: 'int32' },
    { name: 'i64', type: 'int64' },
    { name: 'f32', type: 'float32' },
    { name: 'f64', type: 'float64' },
    { name: 's', type: 'string' },
    { name: 'raw', type: 'bytes' },
    { name: 'seen', type: 'timestamp' },
    { name: 'vec', type: 'list<float32>' },
  ],
  ttl: '1d',
});
const fixture = await historicalFixture('pit_files', buildFeatureRepo('.', [{ definition: typed }]));
const dir = await tempDir('historical-files');
const features = typed.features.map((f) => `typed:${f.name}`);

before(async () => {
  await fixture.commitRows(
    'typed',
    [
      {
        user_id: 1n,
        event_timestamp: T - H,
        created_timestamp: T - H,
        b: true,
        i32: 7,
        i64: 9007199254740993n,
        f32: 0.5,
        f64: 0.25,
        s: 'x',
        raw: new Uint8Array([1, 2]),
        seen: T - 2 * H,
        vec: [1, 2.5],
      },
    ],
    { batchId: 'typed-1' },
  );
});

async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  const duck = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await duck.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
}

test('the output Parquet keeps the declared types, timestamps in UTC with a unit: DuckDB reads it as is', async () => {
  const labels = join(dir, 'labels.parquet');
  await writeFile(
    labels,
    await encodeParquet(
      typedTable([
        { name: 'user_id', type: 'int32', values: [1, 2] },
        { name: 'event_timestamp', type: 'timestamp', values: [T, T] },
        { name: 'label', type: 'float32', values: [1, 0] },
      ]),
    ),
  );
  const out = join(dir, 'train.parquet');
  const written = await writeHistoricalFeatures(fixture.registry, fixture.offline, { entitiesFile: labels, features }, out);
  assert.equal(written.rows, 2);
  const types = await duckRows(`DESCRIBE SELECT * FROM read_parquet('${out}')`);
  assert.deepEqual(
    Object.fromEntries(types.map((r) => [r.column_name, r.column_type])),
    {
      user_id: 'INTEGER', // the label file's own type, kept
      event_timestamp: 'TIMESTAMP WITH TIME ZONE',
      label: 'FLOAT',
      b: 'BOOLEAN',
      i32: 'INTEGER',
      i64: 'BIGINT',
      f32: 'FLOAT',
      f64: 'DOUBLE',
      s: 'VARCHAR',
      raw: 'BLOB',
      seen: 'TIMESTAMP WITH TIME ZONE',
      vec: 'FLOAT[]',
    },
  );
  const schema = await duckRows(`SELECT name, logical_type FROM parquet_schema('${out}') WHERE name IN ('event_timestamp', 'seen')`);
  for (const row of schema) assert.match(String(row.logical_type), /isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\)/, String(row.name));
  const rows = await duckRows(`SELECT user_id, epoch_ms(event_timestamp)::DOUBLE AS t, i64::VARCHAR AS i64, f32, epoch_ms(seen)::DOUBLE AS seen, vec, s FROM read_parquet('${out}')`);
  assert.deepEqual(rows, [
    { user_id: 1, t: T, i64: '9007199254740993', f32: 0.5, seen: T - 2 * H, vec: [1, 2.5], s: 'x' },
    { user_id: 2, t: T, i64: null, f32: null, seen: null, vec: null, s: null },
  ]);
});

test('a CSV entity file with a header and no rows gives an empty training set', async () => {
  const empty = join(dir, 'empty.csv');
  await writeFile(empty, 'user_id,event_timestamp,label\n');
  const out = join(dir, 'empty-train.parquet');
  const written = await writeHistoricalFeatures(fixture.registry, fixture.offline, { entitiesFile: empty, features: ['typed:f32'] }, out);
  assert.deepEqual(written, { rows: 0, bytes: written.bytes, columns: ['user_id', 'event_timestamp', 'label', 'f32'] });
  const types = await duckRows(`DESCRIBE SELECT * FROM read_parquet('${out}')`);
  assert.deepEqual(types.map((r) => r.column_type), ['VARCHAR', 'TIMESTAMP WITH TIME ZONE', 'VARCHAR', 'FLOAT']);
});

test('bad entity files are refused naming the file, the column and the row', async () => {
  const write = (options: { entitiesFile: string; eventTimestampColumn?: string }) =>
    writeHistoricalFeatures(fixture.registry, fixture.offline, { ...options, features }, join(dir, 'bad-out.parquet'));

  await assert.rejects(write({ entitiesFile: join(dir, 'nowhere.parquet') }), /entity file '.*nowhere\.parquet': no such file/);
  const garbage = join(dir, 'garbage.parquet');
  await writeFile(garbage, 'not parquet at all');
  await assert.rejects(write({ entitiesFile: garbage }), (e: Error) => e.message.startsWith(`entity file '${garbage}': cannot read it as Parquet`));

  const noKey = join(dir, 'no-key.csv');
  await writeFile(noKey, `customer,event_timestamp\n1,${new Date(T).toISOString()}\n`);
  await assert.rejects(write({ entitiesFile: noKey }), /entity file '.*no-key\.csv' \(for feature view 'typed'\): no join-key column 'user_id' \(it has customer, event_timestamp\)/);

  const badTime = join(dir, 'bad-time.csv');
  await writeFile(badTime, `user_id,event_timestamp\n1,${new Date(T).toISOString()}\n2,yesterday\n`);
  await assert.rejects(write({ entitiesFile: badTime }), /entity file '.*bad-time\.csv': row 2, column 'event_timestamp': /);

  const badKey = join(dir, 'bad-key.csv');
  await writeFile(badKey, `user_id,event_timestamp\n1,${new Date(T).toISOString()}\nseven,${new Date(T).toISOString()}\n`);
  await assert.rejects(write({ entitiesFile: badKey }), /entity file '.*bad-key\.csv' \(for feature view 'typed'\): row 2, join key 'user_id' \(int64\)/);

  const nullTime = join(dir, 'null-time.parquet');
  await writeFile(
    nullTime,
    await encodeParquet(
      typedTable([
        { name: 'user_id', type: 'int64', values: [1n, 2n, 3n] },
        { name: 'when', type: 'timestamp', values: [T, T, null] },
      ]),
    ),
  );
  await assert.rejects(write({ entitiesFile: nullTime, eventTimestampColumn: 'when' }), /entity file '.*null-time\.parquet': row 3, column 'when': the event timestamp is null/);
  await assert.rejects(write({ entitiesFile: nullTime }), /entity file '.*null-time\.parquet': no event-timestamp column 'event_timestamp' \(it has user_id, when\)/);
});
