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
import { BatchValidationError } from '../../stores/offline/batch-validation-error.ts';
import { readInputFile, toViewTable, type BatchInput } from '../../stores/offline/batch-validation.ts';
import type { OfflineStore } from '../../stores/offline/offline-store.ts';
import { tableToOnlineRows } from '../../stores/offline/row-conversion.ts';
import { viewSchema } from '../../stores/offline/view-schema.ts';
import { tempDir } from '../support/temp-dir.ts';
import { everyType, listKeys, localBackend, spend, T0 } from './offline-fixtures.ts';

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
  const table = toViewTable(everyType, csv);
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
    new Table({ user_id: vectorFromArray(ids, new Utf8()), event_timestamp: vectorFromArray(ids.map(() => String(T0)), new Utf8()), is_vip: vectorFromArray(ids.map(() => 'true'), new Utf8()) });
  const input = new Table([...part(['a', 'b']).batches, ...part(['c', null]).batches]);
  await rejects(t, input, /row 4, column 'user_id'/);
});

test('missing created-timestamp and nullable feature columns become nulls', () => {
  const rows = tableToOnlineRows(everyType, toViewTable(everyType, [{ user_id: 'u', merchant_id: 1, event_timestamp: T0, f_float64: 2 }]));
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
