import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { takeRows } from '../../arrow/take-rows.ts';
import { arrowOnlineColumns } from '../../pipelines/arrow-online-columns.ts';
import { rowKeysAndTimes, tableToOnlineColumns } from '../../pipelines/row-conversion.ts';
import { packArrowRows } from '../../stores/online/arrow-row-packer.ts';
import { onlineTargetOf, ROW_COMPARISON } from '../../stores/online/online-store.ts';
import { PackedRowCodec } from '../../stores/online/packed-row-codec.ts';
import { packColumns, sameAsStored } from '../../stores/online/packed-rows.ts';
import { everyType, everyTypeRows, T0 } from '../offline/offline-fixtures.ts';
import { openTestStore } from './online-fixtures.ts';

const LENIENT = { allowMissingFeatures: true };
const HOUR = 3_600_000;

/** everyType's rows, many times over with changing values, cut into several record batches (as runs read back hold them). */
function manyBatches(): Table {
  const base = everyTypeRows();
  const rows = Array.from({ length: 60 }, (_, i) => {
    const row = { ...base[i % base.length]! };
    return {
      ...row,
      user_id: `u${i}-é`,
      event_timestamp: T0 + i * 1000,
      f_float32: i % 7 === 0 ? null : i / 8,
      f_int64: i % 5 === 0 ? null : BigInt(i) * -3_000_000_000n,
      f_string: i % 4 === 0 ? null : `s${i}✓`.repeat(i % 3),
      f_timestamp: i % 6 === 0 ? null : T0 - i * 1001.5,
    };
  });
  const pieces = [rows.slice(0, 7), rows.slice(7, 30), rows.slice(30)].map((part) => toViewTable(everyType, part, LENIENT));
  return new Table(pieces.flatMap((p) => p.batches));
}

test('packArrowRows: the bytes PackedRowCodec.encode gives for the values tableToOnlineColumns reads (every type, nulls, batches, any row order)', () => {
  const codec = new PackedRowCodec(everyType.features.map((f) => ({ name: f.name, type: f.type })));
  const names = new Set(everyType.features.map((f) => f.name));
  const table = manyBatches();
  // Also read back through IPC (what build and verify read: runs), and as a slice (a chunk with an offset).
  const viaIpc = tableFromIPC(tableToIPC(table, 'file'));
  const sliced = table.slice(5, 50);
  for (const [name, source] of [['built', table], ['read from IPC', viaIpc], ['sliced', sliced]] as const) {
    const { keys } = rowKeysAndTimes(everyType, source);
    const order = Int32Array.from({ length: source.numRows }, (_, i) => (i * 17) % source.numRows).reverse();
    const columns = arrowOnlineColumns(everyType, source, order, Array.from(order, (r) => keys[r]!));
    const expected = tableToOnlineColumns(everyType, takeRows(source, order), columns.keys);
    assert.deepEqual(Array.from(columns.eventTimes), Array.from(expected.eventTimes), `${name}: event times`);
    assert.deepEqual(Array.from(columns.createdTimes), Array.from(expected.createdTimes), `${name}: created times`);
    const packed = packArrowRows(codec, names, { table: source, rows: order }, columns.eventTimes, columns.createdTimes);
    const reference = packColumns(codec, expected);
    assert.equal(packed.refused.size, 0);
    assert.deepEqual([...packed.ends], [...reference.ends], `${name}: row lengths`);
    assert.ok(packed.bytes.subarray(0, packed.ends.at(-1)).equals(reference.bytes), `${name}: bytes`);
    // The lazily read values are tableToOnlineColumns' own.
    assert.deepEqual(columns.values, expected.values);
  }
});

test('packArrowRows: a feature without a column, or not among the view features, is null; a column of another type fails as columnValues does', () => {
  const table = toViewTable(everyType, everyTypeRows(), LENIENT);
  const rows = Int32Array.of(0, 1, 2);
  const { eventTimes, createdTimes } = arrowOnlineColumns(everyType, table, rows, ['a', 'b', 'c']);
  const packing = [...everyType.features.map((f) => ({ name: f.name, type: f.type })), { name: 'f_added', type: 'float64' as const }];
  const codec = new PackedRowCodec(packing);
  // f_added has no column; f_int32 is left out of the view's features: both null.
  const present = new Set(everyType.features.map((f) => f.name).filter((n) => n !== 'f_int32'));
  const packed = packArrowRows(codec, present, { table, rows }, eventTimes, createdTimes);
  for (let i = 0; i < 3; i++) {
    const decoded = codec.decode(packed.bytes.subarray(i === 0 ? 0 : packed.ends[i - 1], packed.ends[i]));
    assert.equal(decoded.values[packing.length - 1], null);
    assert.equal(decoded.values[packing.findIndex((f) => f.name === 'f_int32')], null);
  }
  const wrong = new PackedRowCodec([{ name: 'f_string', type: 'int64' }]);
  assert.throws(() => packArrowRows(wrong, new Set(['f_string']), { table, rows }, eventTimes, createdTimes), /cannot be read as int64/);
});

test('writeNewRows from Arrow: the same stored bytes and expiry as from JS values, compared the same, the fence kept', async (t) => {
  const { store, raw } = await openTestStore(t, { packedRowsPerCall: 2 });
  const now = Date.now();
  const rows: Record<string, unknown>[] = everyTypeRows().map((row, i) => ({ ...row, event_timestamp: now - HOUR + i * 1000 }));
  const table = toViewTable(everyType, rows, LENIENT);
  const { keys } = rowKeysAndTimes(everyType, table);
  const all = Int32Array.of(0, 1, 2);
  const fromArrow = onlineTargetOf('shop', everyType, 1);
  const fromValues = onlineTargetOf('shop', everyType, 2);
  await store.markGeneration(fromArrow);
  await store.markGeneration(fromValues);
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowOnlineColumns(everyType, table, all, keys)), { written: 3, skipped: 0, expired: 0 });
  assert.deepEqual(await store.writeNewRows(fromValues, tableToOnlineColumns(everyType, table, keys)), { written: 3, skipped: 0, expired: 0 });
  const keyOf = async (target: typeof fromArrow, i: number) => store.rowKey(target, [rows[i]!.user_id as string, rows[i]!.merchant_id as bigint]);
  for (let i = 0; i < 3; i++) {
    const a = await raw.getBuffer(await keyOf(fromArrow, i));
    const b = await raw.getBuffer(await keyOf(fromValues, i));
    assert.ok(a && b && a.equals(b), `row ${i}: same bytes`);
    const ttl = await raw.pttl(await keyOf(fromArrow, i));
    assert.ok(ttl > 0 && Math.abs(ttl - (await raw.pttl(await keyOf(fromValues, i)))) < 5000, `row ${i}: same expiry`);
  }
  assert.deepEqual([...(await store.compareRows(fromArrow, arrowOnlineColumns(everyType, table, all, keys)))], [0, 0, 0]);

  // The catch-up moved the fence, then wrote a newer row 0: a zombie build attempt skips it, writes a newer one.
  assert.equal(await store.recordApplied(fromArrow, 3), 3);
  assert.deepEqual(await store.writeRows(fromArrow, [{ entityKey: [rows[0]!.user_id as string, rows[0]!.merchant_id as bigint], values: { f_int32: 5, f_float64: 1 }, eventTime: now - 10, createdTime: 0 }]), { written: 1, skipped: 0, expired: 0 });
  const zombie = toViewTable(everyType, [rows[0]!, { ...rows[1]!, event_timestamp: now - 5 }], LENIENT);
  const zombieKeys = rowKeysAndTimes(everyType, zombie).keys;
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowOnlineColumns(everyType, zombie, Int32Array.of(0, 1), zombieKeys)), { written: 1, skipped: 1, expired: 0 });
  const [stored0] = (await store.readRows([{ target: fromArrow, entityKeys: [[rows[0]!.user_id as string, rows[0]!.merchant_id as bigint]] }]))[0]!;
  assert.equal(stored0!.values.f_int32, 5);
  assert.deepEqual([...(await store.compareRows(fromArrow, arrowOnlineColumns(everyType, table, all, keys)))], [ROW_COMPARISON.differs, ROW_COMPARISON.differs, ROW_COMPARISON.same]);
  // sameAsStored: the bytes an MGET returns against the packed rows.
  const packedRows = packColumns(new PackedRowCodec(everyType.features.map((f) => ({ name: f.name, type: f.type }))), tableToOnlineColumns(everyType, table, keys));
  const stored2 = await raw.getBuffer(await keyOf(fromArrow, 2));
  assert.equal(sameAsStored(packedRows, 2, stored2), ROW_COMPARISON.same);
  assert.equal(sameAsStored(packedRows, 1, stored2), ROW_COMPARISON.differs);
  assert.equal(sameAsStored(packedRows, 2, null), ROW_COMPARISON.absent);
});
