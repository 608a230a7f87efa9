// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Table } from 'apache-arrow';
import { toViewTable } from '../../ingest/batch-validation.ts';

/** These rows leave nullable features out on purpose: their columns are nulls. */
const LENIENT = { allowMissingFeatures: true };
import { columnValues } from '../../arrow/column-values.ts';
import { eventTimeRange, splitByEventDate, tableToOnlineRows } from '../../pipelines/row-conversion.ts';
import { everyType, everyTypeRows, spend, T0 } from '../offline/offline-fixtures.ts';

const DAY = 86_400_000;

test('rows in canonical form: entity keys in entity order, int64 as bigint, times in ms', () => {
  const rows = tableToOnlineRows(everyType, toViewTable(everyType, everyTypeRows()));
  assert.equal(rows.length, 3);
  const [a, b, c] = rows;
  assert.deepEqual(a!.entityKey, ['u1', 9_007_199_254_740_993n]);
  assert.equal(a!.eventTime, T0);
  assert.equal(a!.createdTime, T0 + 1);
  assert.deepEqual(a!.values, {
    f_bool: true,
    f_int32: -2_147_483_648,
    f_int64: -(2n ** 63n),
    f_float32: 1.5,
    f_float64: Math.PI,
    f_string: 'héllo ✓',
    f_bytes: new Uint8Array([0, 255, 7]),
    f_timestamp: T0 - DAY,
    f_list_int64: [1n, null, 2n ** 63n - 1n],
    f_list_string: ['a', null, ''],
    f_list_float32: [0.25, -1],
    f_list_bool: [true, false, null],
    f_list_timestamp: [T0, null],
  });
  assert.equal(b!.createdTime, 0, 'a null created timestamp reads as 0');
  assert.ok(Object.values(b!.values).every((v, i) => v === null || Object.keys(b!.values)[i] === 'f_float64'));
  assert.deepEqual(c!.values.f_list_int64, []);
  assert.equal(c!.entityKey[0], '');
});

test('a range of rows, across record batches', () => {
  const rows = Array.from({ length: 10 }, (_, i) => ({ user_id: `u${i}`, event_timestamp: T0 + i, txn_count_7d: BigInt(i), is_vip: i % 2 === 0 }));
  const one = toViewTable(spend, rows, LENIENT);
  const split = new Table([...toViewTable(spend, rows.slice(0, 4), LENIENT).batches, ...toViewTable(spend, rows.slice(4), LENIENT).batches]);
  assert.equal(split.batches.length, 2);
  const range = tableToOnlineRows(spend, split, 2, 7);
  assert.deepEqual(range.map((r) => r.entityKey[0]), ['u2', 'u3', 'u4', 'u5', 'u6']);
  assert.deepEqual(range, tableToOnlineRows(spend, one, 2, 7));
  assert.deepEqual(tableToOnlineRows(spend, split, 5, 5), []);
  assert.throws(() => tableToOnlineRows(spend, split, 0, 11), RangeError);
});

test('sliced columns read from their offset', () => {
  const table = toViewTable(everyType, [...everyTypeRows(), ...everyTypeRows()]).slice(1, 5);
  const expected = tableToOnlineRows(everyType, toViewTable(everyType, [...everyTypeRows(), ...everyTypeRows()])).slice(1, 5);
  assert.deepEqual(tableToOnlineRows(everyType, table), expected);
  assert.deepEqual(columnValues(table.getChild('f_list_bool')!.data[0]!, 'list<bool>', 0, 2), [null, []]);
});

test('a feature column the object predates reads as nulls', () => {
  const table = toViewTable(spend, [{ user_id: 'u', event_timestamp: T0, txn_count_7d: 1n, is_vip: true }], LENIENT).select(['user_id', 'event_timestamp', 'is_vip']);
  assert.deepEqual(tableToOnlineRows(spend, table)[0]!.values, { spend_7d_avg: null, txn_count_7d: null, is_vip: true });
  assert.throws(() => tableToOnlineRows(spend, table.select(['user_id', 'is_vip'])), /no column 'event_timestamp'/);
});

test('split by UTC event date, keeping row order within each day; event time range', () => {
  const times = [T0 + DAY, T0, Date.UTC(2024, 4, 3) - 1, T0 + 1, Date.UTC(2024, 4, 2) - 1];
  const table = toViewTable(spend, times.map((t, i) => ({ user_id: `u${i}`, event_timestamp: t, is_vip: false })), LENIENT);
  const parts = splitByEventDate(spend, table);
  assert.deepEqual([...parts.keys()], ['2024-05-01', '2024-05-02']);
  const ids = (t: Table) => tableToOnlineRows(spend, t).map((r) => r.entityKey[0]);
  assert.deepEqual(ids(parts.get('2024-05-01')!), ['u1', 'u3', 'u4']);
  assert.deepEqual(ids(parts.get('2024-05-02')!), ['u0', 'u2']);
  assert.deepEqual(eventTimeRange(spend, table), { min: T0, max: Date.UTC(2024, 4, 3) - 1 });
  assert.deepEqual(eventTimeRange(spend, parts.get('2024-05-01')!), { min: T0, max: Date.UTC(2024, 4, 2) - 1 });

  const oneDay = toViewTable(spend, [{ user_id: 'u', event_timestamp: T0, is_vip: false }], LENIENT);
  assert.equal(splitByEventDate(spend, oneDay).get('2024-05-01'), oneDay, 'one day: the same table, no copy');
  assert.throws(() => eventTimeRange(spend, toViewTable(spend, [], LENIENT)), RangeError);
});
