import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import { readInputFile } from '../../ingest/batch-validation.ts';
import { granary } from '../cli/cli-fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';
import { historicalFixture, rowsOf } from './historical-fixtures.ts';

/** `granary historical`: a label file in, a Parquet training set out, against MinIO (the stack's S3). */
const H = 3_600_000;
const T = Date.UTC(2024, 4, 1, 12);
const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
const driverStats = featureView({
  name: 'driver_stats',
  entities: [driver],
  source: parquetSource({ name: 'drivers', path: 'data/drivers', createdTimestampColumn: 'created_timestamp' }),
  schema: [
    { name: 'conv_rate', type: 'float64' },
    { name: 'trips', type: 'int64' },
  ],
  ttl: '2h',
});
const model = featureService({ name: 'eta_model', features: ['driver_stats:trips', 'driver_stats:conv_rate'] });
const fixture = await historicalFixture('pit_cli', buildFeatureRepo('.', [{ definition: driverStats }, { definition: model }]), { s3: true });
const dir = await tempDir('historical-cli');

before(async () => {
  await fixture.commitRows(
    'driver_stats',
    [
      { driver_id: 1n, event_timestamp: T - H, created_timestamp: T - H, conv_rate: 0.5, trips: 10n },
      { driver_id: 1n, event_timestamp: T - 3 * H, created_timestamp: T - 3 * H, conv_rate: 0.25, trips: 5n },
      { driver_id: 2n, event_timestamp: T - 30 * 60_000, created_timestamp: T, conv_rate: 0.75, trips: 7n },
    ],
    { batchId: 'drivers-1' },
  );
  await writeFile(
    join(dir, 'labels.csv'),
    ['driver_id,event_timestamp,arrived_late', `1,${new Date(T).toISOString()},1`, `2,${new Date(T).toISOString()},0`, `1,${new Date(T - 2 * H).toISOString()},0`, `3,${new Date(T).toISOString()},1`].join('\n'),
  );
});

const run = (args: string[]) => granary(args, { project: fixture.config.project, cwd: dir, env: fixture.env });

test('writes the training set as Parquet in the input order, features in the service order, and prints its first rows', async () => {
  const result = await run(['historical', '--entities', 'labels.csv', '--service', 'eta_model', '--out', 'train.parquet', '--head', '2']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /train\.parquet: 4 rows x 5 columns \(driver_id, event_timestamp, arrived_late, trips, conv_rate\)/);
  assert.match(result.stdout, /^1\s+2024-05-01T12:00:00.000Z\s+1\s+10\s+0.5$/m);
  const table = await readInputFile(join(dir, 'train.parquet'));
  assert.deepEqual(
    rowsOf(table).map((r) => [r.driver_id, r.event_timestamp, r.arrived_late, r.trips, r.conv_rate]),
    [
      ['1', T, '1', 10n, 0.5],
      ['2', T, '0', 7n, 0.75],
      ['1', T - 2 * H, '0', 5n, 0.25], // the row at T - 3h: 1 h before, within the 2 h TTL
      ['3', T, '1', null, null], // no history
    ],
  );
});

test('--features with --full-feature-names, and --json', async () => {
  const result = await run(['historical', '--entities', 'labels.csv', '--features', 'driver_stats:conv_rate', '--full-feature-names', '--out', 'f.parquet', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as { rows: number; columns: string[] };
  assert.equal(summary.rows, 4);
  assert.deepEqual(summary.columns, ['driver_id', 'event_timestamp', 'arrived_late', 'driver_stats__conv_rate']);
});

test('a snapshot with --end: every entity with its latest values', async () => {
  const result = await run(['historical', '--features', 'driver_stats:trips', '--end', new Date(T).toISOString(), '--out', 'snap.parquet']);
  assert.equal(result.code, 0, result.stderr);
  const rows = rowsOf(await readInputFile(join(dir, 'snap.parquet')));
  assert.deepEqual(rows.map((r) => [r.driver_id, r.trips]).sort(), [
    [1n, 10n],
    [2n, 7n],
  ]);
});

test('bad input exits 1 with one error line naming the problem', async () => {
  const missing = await run(['historical', '--entities', 'nope.csv', '--service', 'eta_model', '--out', 'x.parquet']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*nope\.csv/m);
  const neither = await run(['historical', '--service', 'eta_model', '--out', 'x.parquet']);
  assert.equal(neither.code, 1);
  assert.match(neither.stderr, /^error: pass --entities FILE, or --end/m);
  const unknown = await run(['historical', '--entities', 'labels.csv', '--service', 'nope', '--out', 'x.parquet']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: feature service 'nope' is not applied/m);
});
