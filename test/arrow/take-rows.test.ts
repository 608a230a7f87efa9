// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTable, Table } from 'apache-arrow';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { tableToOnlineRows } from '../../pipelines/row-conversion.ts';
import { contiguousSlice, takeRows } from '../../arrow/take-rows.ts';
import { everyType, everyTypeRows } from '../offline/offline-fixtures.ts';

test('takes rows across record batches, in the given order, every view type with nulls', () => {
  const rows = everyTypeRows();
  const chunked = new Table([...toViewTable(everyType, rows).batches, ...toViewTable(everyType, rows.slice(1)).batches]);
  const taken = takeRows(chunked, Int32Array.of(4, 0, 2, 1));
  assert.equal(taken.batches.length, 1);
  const all = tableToOnlineRows(everyType, chunked);
  assert.deepEqual(tableToOnlineRows(everyType, taken), [all[4], all[0], all[2], all[1]]);
  assert.throws(() => takeRows(chunked, Int32Array.of(5)), RangeError);
});

test('a contiguous slice is copied only when it spans batches', () => {
  const a = makeTable({ x: Int8Array.of(1, 2, 3), y: Float64Array.of(NaN, -0, 1.5) });
  const b = makeTable({ x: Int8Array.of(4), y: Float64Array.of(9) });
  const table = new Table([...a.batches, ...b.batches]);
  const within = contiguousSlice(table, 1, 3);
  assert.equal(within.batches[0]!.data.children[0]!.values.buffer, a.batches[0]!.data.children[0]!.values.buffer);
  const across = contiguousSlice(table, 1, 4);
  assert.equal(across.batches.length, 1);
  assert.deepEqual(across.toArray().map((r) => r.toJSON()), [{ x: 2, y: -0 }, { x: 3, y: 1.5 }, { x: 4, y: 9 }]);
});
