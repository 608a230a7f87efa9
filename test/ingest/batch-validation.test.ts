// granary-test: no-stack
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DateDay,
  Float64,
  Int32,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  TimestampNanosecond,
  TimestampSecond,
  vectorFromArray,
  Utf8,
} from 'apache-arrow';
import { BatchValidationError } from '../../ingest/batch-validation-error.ts';
import { featureView } from '../../definitions/feature-view.ts';
import { readInputFile, readViewTable, toViewTable, type BatchInput } from '../../ingest/batch-validation.ts';
import type { OfflineStore } from '../../stores/offline/offline-store.ts';
import { tableToOnlineRows } from '../../pipelines/row-conversion.ts';
import { viewSchema } from '../../arrow/view-schema.ts';
import { tempDir } from '../support/temp-dir.ts';
import { everyType, listKeys, localBackend, spend, T0 } from '../offline/offline-fixtures.ts';

const HEADER = 'user_id,event_timestamp,spend_7d_avg,txn_count_7d,is_vip';

/** What ingestion does: validate, then write. A bad batch must leave the store untouched. */
async function ingest(store: OfflineStore, input: BatchInput): Promise<void> {
  await store.writeTable('proj/user_spend/v1/date=2024-05-01/b.parquet', toViewTable(spend, input));
}

async function rejects(t: import('node:test').TestContext, input: BatchInput, ...patterns: RegExp[]): Promise<BatchValidationError> {
  const store = await localBackend.open(t);
  let caught: unknown;
  await assert.rejects(ingest(store, input), (error) => {
    caught = error;
    return error instanceof BatchValidationError;
  });
  const error = caught as BatchValidationError;
  assert.match(error.message, /^view 'user_spend': /);
  for (const pattern of patterns) assert.match(error.message, pattern);
  assert.deepEqual(await listKeys(store), [], 'nothing written');
  return error;
}

const good = { user_id: 'u1', event_timestamp: T0, spend_7d_avg: 1.5, txn_count_7d: 3n, is_vip: false };

test('row objects become a table in exactly the view schema', () => {
  const table = toViewTable(spend, [good, { ...good, user_id: 'u2', txn_count_7d: 4, spend_7d_avg: null }]);
  assert.deepEqual(
    table.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
    viewSchema(spend).fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
  );
  assert.deepEqual(tableToOnlineRows(spend, table)[1], {
    entityKey: ['u2'],
    values: { spend_7d_avg: null, txn_count_7d: 4n, is_vip: false },
    eventTime: T0,
    createdTime: 0,
  });
});

test('Arrow input with compatible types: int32 for int64, float64 for float32, s/µs/ns timestamps, dates', () => {
  const n = 3;
  const base = {
    user_id: vectorFromArray(['a', 'b', 'c'], new Utf8()),
    spend_7d_avg: makeVector(makeData({ type: new Float64(), length: n, data: Float64Array.of(0.5, 1, -2) })),
    txn_count_7d: makeVector(makeData({ type: new Int32(), length: n, data: Int32Array.of(-1, 0, 2_000_000_000) })),
    is_vip: vectorFromArray([true, false, true]),
  };
  const us = BigInt(T0) * 1000n;
  const cases = [
    makeVector(makeData({ type: new TimestampMicrosecond(), length: n, data: BigInt64Array.of(us, us + 999n, -1n) })),
    makeVector(makeData({ type: new TimestampNanosecond('America/New_York'), length: n, data: BigInt64Array.of(us * 1000n, us * 1000n + 999_999n, -1n) })),
    makeVector(makeData({ type: new TimestampSecond(), length: n, data: BigInt64Array.of(BigInt(T0 / 1000), BigInt(T0 / 1000), -1n) })),
  ];
  const expected = [
    [T0, T0, -1],
    [T0, T0, -1],
    [T0, T0, -1000],
  ];
  for (const [i, event_timestamp] of cases.entries()) {
    const rows = tableToOnlineRows(spend, toViewTable(spend, new Table({ ...base, event_timestamp })));
    assert.deepEqual(rows.map((r) => r.eventTime), expected[i]);
    assert.deepEqual(rows.map((r) => r.values.txn_count_7d), [-1n, 0n, 2_000_000_000n]);
    assert.deepEqual(rows.map((r) => r.values.spend_7d_avg), [0.5, 1, -2]);
  }
  const days = makeVector(makeData({ type: new DateDay(), length: n, data: Int32Array.of(19844, 0, -1) }));
  const rows = tableToOnlineRows(spend, toViewTable(spend, new Table({ ...base, event_timestamp: days })));
  assert.deepEqual(rows.map((r) => r.eventTime), [Date.UTC(2024, 4, 1), 0, -86_400_000]);
});

test('CSV text: typed by the view, ISO and epoch timestamps, quoted vs unquoted empty fields', () => {
  const csv = [
    'user_id,merchant_id,event_timestamp,created_timestamp,f_float64,f_int64,f_bool,f_string,f_bytes,f_list_int64,f_timestamp',
    'u1,7,2024-05-01T12:00:00Z,1714564800,1.25,9223372036854775807,TRUE,"a, b",AP8H,"[1, null, ""9007199254740993""]",2024-05-01 14:00:00+02:00',
    'u2,7,1714564800000,,0,,0,"",,[],1714564800000000',
    '"",7,1714564800000000000,2024-05-01,NaN,-3,false,,,,2024-05-01T12:00:00.123456',
  ].join('\n');
  const table = toViewTable(everyType, csv, { allowMissingFeatures: true });
  const rows = tableToOnlineRows(everyType, table);
  assert.deepEqual(rows.map((r) => r.entityKey), [['u1', 7n], ['u2', 7n], ['', 7n]]);
  assert.deepEqual(rows.map((r) => r.eventTime), [T0, T0, T0]);
  assert.deepEqual(rows.map((r) => r.createdTime), [T0, 0, Date.UTC(2024, 4, 1)]);
  assert.deepEqual(rows[0]!.values.f_int64, 2n ** 63n - 1n);
  assert.deepEqual(rows[0]!.values.f_list_int64, [1n, null, 9_007_199_254_740_993n]);
  assert.deepEqual(rows[0]!.values.f_bytes, new Uint8Array([0, 255, 7]));
  assert.equal(rows[0]!.values.f_string, 'a, b');
  assert.equal(rows[0]!.values.f_timestamp, T0);
  assert.equal(rows[0]!.values.f_bool, true);
  assert.equal(rows[1]!.values.f_string, '', 'a quoted empty field is an empty string');
  assert.equal(rows[2]!.values.f_string, null, 'an unquoted empty field is a null');
  assert.equal(rows[1]!.values.f_int64, null);
  assert.equal(rows[1]!.values.f_timestamp, T0, 'µs epoch');
  assert.equal(rows[2]!.values.f_timestamp, T0 + 123, 'no zone means UTC; sub-ms digits dropped');
  assert.ok(Number.isNaN(rows[2]!.values.f_float64));
});

test('unknown column', async (t) => {
  await rejects(t, [{ ...good, spend_30d: 1 }], /column 'spend_30d': is not a column of the view/);
});

test('missing join-key column and missing event-timestamp column', async (t) => {
  await rejects(
    t,
    [{ spend_7d_avg: 1, is_vip: true }],
    /column 'user_id' \(join key, string\): the join-key column is missing/,
    /column 'event_timestamp' \(event timestamp\): the event-timestamp column is missing/,
  );
});

test('null or missing join key', async (t) => {
  await rejects(t, [good, { ...good, user_id: null }, { ...good, user_id: undefined }], /row 2, column 'user_id' \(join key, string\): the join key is null or missing/, /row 3, column 'user_id'/);
});

test('unparsable and missing event timestamps', async (t) => {
  await rejects(
    t,
    `${HEADER}\nu1,2024-05-01,1,1,true\nu2,yesterday,1,1,true\nu3,,1,1,true\nu4,2024-02-30,1,1,true`,
    /row 2, column 'event_timestamp' \(event timestamp\): 'yesterday' is not a timestamp/,
    /row 3, column 'event_timestamp' \(event timestamp\): the event timestamp is null or missing/,
    /row 4, column 'event_timestamp' \(event timestamp\): '2024-02-30' is not a valid date/,
  );
});

test('values of the wrong type', async (t) => {
  await rejects(
    t,
    [
      { ...good, spend_7d_avg: 'abc' },
      { ...good, txn_count_7d: 3.5 },
      { ...good, txn_count_7d: '9223372036854775808' },
      { ...good, txn_count_7d: 2 ** 60 },
      { ...good, user_id: 42 },
      { ...good, is_vip: 'maybe' },
    ],
    /^view 'user_spend': 6 problems/,
    /row 1, column 'spend_7d_avg' \(float32\): 'abc' is not a number/,
    /row 2, column 'txn_count_7d' \(int64\): 3.5 is not a whole number/,
    /row 3, column 'txn_count_7d' \(int64\): '9223372036854775808' is outside the int64 range/,
    /row 4, column 'txn_count_7d' \(int64\): 1152921504606847000 is beyond 2\^53/,
    /row 5, column 'user_id' \(join key, string\): expected a string, got 42/,
  );
});

test('null in a non-nullable feature, and its column missing', async (t) => {
  await rejects(t, [good, { ...good, is_vip: null }], /row 2, column 'is_vip' \(bool, not null\): null in a non-nullable feature/);
  await rejects(t, [{ user_id: 'u', event_timestamp: T0 }], /column 'is_vip' \(bool, not null\): the column of a non-nullable feature is missing/);
});

test('an Arrow column whose type cannot hold the declared one', async (t) => {
  await rejects(
    t,
    new Table({
      user_id: vectorFromArray([1.5], new Float64()),
      event_timestamp: vectorFromArray([T0], new Float64()),
      is_vip: vectorFromArray([true]),
    }),
    /column 'user_id' \(join key, string\): has type Float64 in the input, which cannot hold string/,
  );
});

test('malformed CSV', async (t) => {
  await rejects(t, `${HEADER}\nu1,2024-05-01,1,1,true,extra`, /not valid CSV: .*line 2/i);
});

test('the message shows the first rows across columns, and counts the rest', async (t) => {
  const rows = Array.from({ length: 10 }, (_, i) => ({ ...good, spend_7d_avg: i % 2 ? 'x' : 1, txn_count_7d: i % 2 ? 1n : 'y' }));
  const error = await rejects(t, rows, /10 problems/, /row 1, column 'txn_count_7d'/, /row 5, column 'txn_count_7d'/, /\.\.\. and 5 more/);
  assert.deepEqual(error.problems.slice(0, 5).map((p) => p.row), [1, 2, 3, 4, 5]);
  assert.equal(error.problemCount, 10);
  assert.doesNotMatch(error.message, /row 6/);
});

test('row numbers run across the record batches of an Arrow input', async (t) => {
  const part = (ids: (string | null)[]) =>
    new Table({
      user_id: vectorFromArray(ids, new Utf8()),
      event_timestamp: vectorFromArray(ids.map(() => String(T0)), new Utf8()),
      spend_7d_avg: vectorFromArray(ids.map(() => '1'), new Utf8()),
      txn_count_7d: vectorFromArray(ids.map(() => null), new Utf8()),
      is_vip: vectorFromArray(ids.map(() => 'true'), new Utf8()),
    });
  const input = new Table([...part(['a', 'b']).batches, ...part(['c', null]).batches]);
  await rejects(t, input, /row 4, column 'user_id'/);
});

test('missing created-timestamp and, with allowMissingFeatures, nullable feature columns become nulls', () => {
  const input = [{ user_id: 'u', merchant_id: 1, event_timestamp: T0, f_float64: 2 }];
  const rows = tableToOnlineRows(everyType, toViewTable(everyType, input, { allowMissingFeatures: true }));
  assert.equal(rows[0]!.createdTime, 0);
  assert.equal(rows[0]!.values.f_string, null);
  assert.equal(rows[0]!.values.f_list_int64, null);
  assert.deepEqual(rows[0]!.entityKey, ['u', 1n]);
});

test('readInputFile reads CSV and Parquet files', async (t) => {
  const dir = await tempDir('input');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const csvPath = join(dir, 'batch.csv');
  await writeFile(csvPath, `${HEADER}\nu1,2024-05-01T12:00:00Z,1.5,3,true\nu2,${T0},,,false\n`);
  const fromCsv = toViewTable(spend, await readInputFile(csvPath));
  assert.deepEqual(tableToOnlineRows(spend, fromCsv).map((r) => [r.entityKey[0], r.eventTime, r.values.txn_count_7d]), [
    ['u1', T0, 3n],
    ['u2', T0, null],
  ]);
  const store = await localBackend.open(t);
  await store.writeTable('input.parquet', fromCsv);
  const fromParquet = toViewTable(spend, await readInputFile(store.localPath('input.parquet')));
  assert.deepEqual(tableToOnlineRows(spend, fromParquet), tableToOnlineRows(spend, fromCsv));
  await assert.rejects(readInputFile(join(dir, 'batch.json')), /expected a \.parquet or \.csv file/);
});

test('a batch missing a nullable feature column is refused, naming the view and the columns', async (t) => {
  const withoutSpend = { user_id: 'u1', event_timestamp: T0, is_vip: true };
  const error = await rejects(
    t,
    [withoutSpend],
    /^view 'user_spend': 1 problem/,
    /feature columns 'spend_7d_avg', 'txn_count_7d' missing from the batch .*--allow-missing-features/,
  );
  assert.equal(error.problems[0]!.row, null);
  await rejects(t, `user_id,event_timestamp,spend_7d_avg,is_vip\nu1,${T0},1.5,true\n`, /feature column 'txn_count_7d' missing from the batch/);
  await rejects(
    t,
    new Table({ user_id: vectorFromArray(['u1'], new Utf8()), event_timestamp: vectorFromArray([String(T0)], new Utf8()), is_vip: vectorFromArray([true]) }),
    /feature columns 'spend_7d_avg', 'txn_count_7d' missing/,
  );
  // Present and null is fine; with allowMissingFeatures the missing columns are nulls.
  assert.equal(toViewTable(spend, [{ ...withoutSpend, spend_7d_avg: null, txn_count_7d: null }]).numRows, 1);
  const rows = tableToOnlineRows(spend, toViewTable(spend, [withoutSpend], { allowMissingFeatures: true }));
  assert.deepEqual(rows[0]!.values, { spend_7d_avg: null, txn_count_7d: null, is_vip: true });
});

test('event and created timestamps later than now + the skew are refused, naming row and column', async (t) => {
  const now = Date.UTC(2026, 0, 1);
  const csv = `${HEADER}\nu1,2025-12-31T23:00:00Z,1,1,true\nu2,9999-12-31T23:59:59Z,1,1,true\nu3,2026-01-01T01:00:00Z,1,1,true\nu4,2026-01-01T01:00:01Z,1,1,true`;
  const store = await localBackend.open(t);
  const write = async (options: Parameters<typeof toViewTable>[2]) => store.writeTable('p/v/v1/date=2026-01-01/b.parquet', toViewTable(spend, csv, options));
  await assert.rejects(write({ now }), (error: unknown) => {
    assert.ok(error instanceof BatchValidationError);
    assert.match(error.message, /^view 'user_spend': 2 problems/);
    assert.match(error.message, /row 2, column 'event_timestamp' \(event timestamp\): 9999-12-31T23:59:59\.000Z is later than now \+ 1h \(2026-01-01T01:00:00\.000Z; setting ingest\.maxFutureSkew\)/);
    assert.match(error.message, /row 4, column 'event_timestamp'/);
    assert.doesNotMatch(error.message, /row 3/, 'exactly now + skew is accepted');
    return true;
  });
  assert.deepEqual(await listKeys(store), [], 'nothing written');
  // The skew is the caller's (the setting ingest.maxFutureSkew); Infinity turns the check off.
  await assert.rejects(write({ now, maxFutureSkewMs: 0 }), /row 3, column 'event_timestamp' .* later than now \+ 0s/);
  assert.equal(toViewTable(spend, csv, { now, maxFutureSkewMs: Infinity }).numRows, 4);
  // Created timestamps likewise; row objects and Dates too; the default skew is one hour of the real clock.
  const created = [{ user_id: 'u', merchant_id: 1, event_timestamp: T0, created_timestamp: new Date(Date.now() + 2 * 3_600_000), f_float64: 1 }];
  assert.throws(() => toViewTable(everyType, created, { allowMissingFeatures: true }), /row 1, column 'created_timestamp' \(created timestamp\): .* is later than now \+ 1h/);
  assert.throws(() => toViewTable(spend, [{ ...good, event_timestamp: new Date('9999-12-31T23:59:59Z') }]), /row 1, column 'event_timestamp'.*9999-12-31/);
});

test('values that do not fit the declared type are refused in CSV, row objects and Parquet input', async (t) => {
  await rejects(t, `${HEADER}\nu1,${T0},1e400,1,true\nu2,${T0},1e39,1,true\nu3,${T0},3.4e38,1,true`, /row 1, column 'spend_7d_avg' \(float32\): '1e400' is outside the float32 range/, /row 2, column 'spend_7d_avg' \(float32\): '1e39' is outside/);
  await rejects(t, [{ ...good, spend_7d_avg: 1e300 }], /row 1, column 'spend_7d_avg' \(float32\): 1e\+300 is outside the float32 range/);
  // A float64 Parquet column into float32: the fast path's overflow is caught with its row.
  const arrow = (spend_7d_avg: number[]) =>
    new Table({
      user_id: vectorFromArray(spend_7d_avg.map((_, i) => `u${i}`), new Utf8()),
      event_timestamp: vectorFromArray(spend_7d_avg.map(() => String(T0)), new Utf8()),
      spend_7d_avg: makeVector(makeData({ type: new Float64(), length: spend_7d_avg.length, data: Float64Array.from(spend_7d_avg) })),
      txn_count_7d: vectorFromArray(spend_7d_avg.map(() => '1'), new Utf8()),
      is_vip: vectorFromArray(spend_7d_avg.map(() => true)),
    });
  await rejects(t, arrow([1, 1e300, 2, 1e39]), /row 2, column 'spend_7d_avg' \(float32\): 1e\+300 is outside the float32 range/, /row 4, .*1e\+39 is outside/);
  await rejects(t, arrow([1, NaN, -Infinity]), /row 2, column 'spend_7d_avg' \(float32\): NaN is not a finite number/, /row 3, .*-Infinity is not a finite number/);
  const dir = await tempDir('overflow');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await localBackend.open(t);
  const wide = featureView({ name: 'wide', entities: [spend.entities[0]!], source: spend.source, ttl: '1d', schema: [{ name: 'spend_7d_avg', type: 'float64' }, { name: 'txn_count_7d', type: 'int64' }, { name: 'is_vip', type: 'bool' }] });
  await store.writeTable('wide.parquet', toViewTable(wide, [{ ...good, spend_7d_avg: 1e300 }, { ...good, spend_7d_avg: 1e39 }]));
  await assert.rejects(readViewTable(spend, store.localPath('wide.parquet')), /row 1, column 'spend_7d_avg' \(float32\): 1e\+300 is outside[\s\S]*row 2, .*1e\+39/);
  // Where the feature allows them, NaN and infinities are kept.
  const rows = tableToOnlineRows(everyType, toViewTable(everyType, [{ user_id: 'u', merchant_id: 1, event_timestamp: T0, f_float64: -Infinity }], { allowMissingFeatures: true }));
  assert.equal(rows[0]!.values.f_float64, -Infinity);
  assert.throws(() => toViewTable(everyType, [{ user_id: 'u', merchant_id: 1, event_timestamp: T0, f_float64: 1, f_float32: NaN, f_list_float32: [Infinity] }], { allowMissingFeatures: true }), /column 'f_float32' \(float32\): NaN is not a finite number[\s\S]*column 'f_list_float32' .*item 0: Infinity is not a finite number/);
});

test('readViewTable validates a CSV as a stream of chunks, row numbers counting from the first data row', async (t) => {
  const dir = await tempDir('stream');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lines = Array.from({ length: 7 }, (_, i) => `u${i},${T0 + i},${i}.5,${i},${i % 2 === 0}`);
  const path = join(dir, 'batch.csv');
  await writeFile(path, `${HEADER}\n${lines.join('\n')}\n`);
  const streamed = await readViewTable(spend, path, {}, 3);
  assert.deepEqual(streamed.batches.map((b) => b.numRows), [3, 3, 1], 'one typed batch per chunk');
  assert.deepEqual(tableToOnlineRows(spend, streamed), tableToOnlineRows(spend, toViewTable(spend, `${HEADER}\n${lines.join('\n')}`)));
  lines[4] = `u4,${T0},abc,4,true`;
  lines[6] = `u6,9999-12-31,6,6,true`;
  await writeFile(path, `${HEADER}\n${lines.join('\n')}\n`);
  await assert.rejects(readViewTable(spend, path, {}, 3), /row 5, column 'spend_7d_avg' \(float32\): 'abc' is not a number[\s\S]*row 7, column 'event_timestamp'/);
  await writeFile(path, `user_id,event_timestamp,is_vip\nu1,${T0},true\n`);
  await assert.rejects(readViewTable(spend, path, {}, 3), /feature columns 'spend_7d_avg', 'txn_count_7d' missing/);
  assert.equal((await readViewTable(spend, path, { allowMissingFeatures: true }, 3)).numRows, 1);
  await writeFile(path, `${HEADER}\nu1,${T0},1,1,true,extra\n`);
  await assert.rejects(readViewTable(spend, path, {}, 3), (error: unknown) => error instanceof BatchValidationError && error.message.includes(`${path}: not valid CSV`));
  await writeFile(path, HEADER);
  assert.equal((await readViewTable(spend, path)).numRows, 0);
});

test('a Parquet file that cannot be read is named in the error', async (t) => {
  const dir = await tempDir('bad-parquet');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'broken.parquet');
  await writeFile(path, 'PAR1 this is not parquet');
  await assert.rejects(readViewTable(spend, path), (error: unknown) => (error as Error).message.startsWith(`${path}: cannot read the Parquet file: `));
  await assert.rejects(readInputFile(path), (error: unknown) => (error as Error).message.startsWith(`${path}: cannot read the Parquet file: `));
  // A committed object that is not Parquet: materialization's error names the object.
  const store = await localBackend.open(t);
  await store.putBytes('p/v/v1/date=2024-05-01/broken.parquet', new TextEncoder().encode('PAR1 not parquet either'));
  await assert.rejects(
    (async () => {
      for await (const batch of store.readTable('p/v/v1/date=2024-05-01/broken.parquet')) void batch;
    })(),
    (error: unknown) => /\/p\/v\/v1\/date=2024-05-01\/broken\.parquet: cannot read the Parquet file: /.test((error as Error).message),
  );
});
