import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { rowKeysAndTimes, tableToOnlineColumns, tableToOnlineRows } from '../../pipelines/row-conversion.ts';
import { signature } from '../../pipelines/verify-view.ts';
import { ROW_COMPARISON, onlineTargetOf } from '../../stores/online/online-store.ts';
import { everyType, everyTypeRows, T0 } from '../offline/offline-fixtures.ts';
import { openTestStore } from './online-fixtures.ts';

const LENIENT = { allowMissingFeatures: true };
const HOUR = 3_600_000;

test('compareRows: same exactly when the decoded rows would match (every type, nulls, multi-byte strings), absent without a row', async (t) => {
  // A small rowsPerCompare, so a compare takes several script calls.
  const { store } = await openTestStore(t, { rowsPerCompare: 2 });
  const now = Date.now();
  const fresh = (row: Record<string, unknown>, i: number) => ({ ...row, event_timestamp: now - HOUR + i * 1000 });
  const storedRows = everyTypeRows().map(fresh);
  const target = onlineTargetOf('shop', everyType, 1);
  const stored = toViewTable(everyType, storedRows, LENIENT);
  assert.deepEqual(await store.writeRows(target, tableToOnlineRows(everyType, stored)), { written: 3, skipped: 0, expired: 0 });

  const columnsOf = (rows: Record<string, unknown>[]) => {
    const table = toViewTable(everyType, rows, LENIENT);
    return { columns: tableToOnlineColumns(everyType, table, rowKeysAndTimes(everyType, table).keys), rows: tableToOnlineRows(everyType, table) };
  };
  const same = columnsOf(storedRows);
  assert.deepEqual([...(await store.compareRows(target, same.columns))], [0, 0, 0]);

  const [u1, u2, empty] = storedRows as unknown as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  const variants: [string, Record<string, unknown>][] = [
    ['as stored', u1],
    ['another character of the same byte length', { ...u1, f_string: 'héllo ✔' }],
    ['NaN for pi', { ...u1, f_float64: NaN }],
    ['a list item changed', { ...u1, f_list_string: ['a', null, 'b'] }],
    ['a list item null', { ...u1, f_list_int64: [1n, null, null] }],
    ['another created time', { ...u1, created_timestamp: T0 + 2 }],
    ['another event time', { ...u1, event_timestamp: (u1.event_timestamp as number) + 1 }],
    ['null for a value', { ...u1, f_bytes: null }],
    ['a value for a null', { ...u2, f_int32: 0 }],
    ['as stored, with nulls', u2],
    ['null for an empty string', { ...empty, f_string: null }],
    ['as stored, empty values and NaN', empty],
    ['an entity never written', { ...u1, user_id: 'nobody' }],
  ];
  const compared = columnsOf(variants.map(([, row]) => row));
  const codes = await store.compareRows(target, compared.columns);
  const [online] = await store.readRows([{ target, entityKeys: compared.rows.map((r) => r.entityKey) }]);
  variants.forEach(([name, row], i) => {
    // What verify did before compareRows: the decoded row's signature against the offline one's.
    const expected = online![i] === null ? ROW_COMPARISON.absent : signature(online![i]!) === signature(compared.rows[i]!) ? ROW_COMPARISON.same : ROW_COMPARISON.differs;
    assert.equal(codes[i], expected, `${name}: ${JSON.stringify(row, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  });
  assert.deepEqual([...codes], [0, 2, 2, 2, 2, 2, 2, 2, 2, 0, 2, 0, 1]);
  // A value its codec refuses was never written: that row differs, the others are unaffected.
  const refused = { ...same.columns, values: { ...same.columns.values, f_float64: ['not a number', 0, NaN] as never } };
  assert.deepEqual([...(await store.compareRows(target, refused))], [2, 0, 0]);
  assert.deepEqual(await store.compareRows(target, { keys: [], eventTimes: [], createdTimes: [], values: {} }), new Uint8Array(0));
});
