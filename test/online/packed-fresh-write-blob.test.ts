import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeRows } from '../../arrow/take-rows.ts';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { arrowOnlineColumns } from '../../pipelines/arrow-online-columns.ts';
import { rowKeysAndTimes, tableToOnlineColumns } from '../../pipelines/row-conversion.ts';
import { onlineTargetOf } from '../../stores/online/online-store.ts';
import { PACKED_FRESH_WRITE_BLOB_LUA } from '../../stores/online/packed-fresh-write-blob.lua.ts';
import { everyType, everyTypeRows } from '../offline/offline-fixtures.ts';
import { openTestStore } from './online-fixtures.ts';

const LENIENT = { allowMissingFeatures: true };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** everyType's rows `count` times over, each its own entity, some already past their expiry. */
function manyRows(count: number, now: number): Record<string, unknown>[] {
  const base = everyTypeRows();
  return Array.from({ length: count }, (_, i) => ({
    ...base[i % base.length]!,
    user_id: `u${i}-é`,
    event_timestamp: i % 11 === 0 ? now - 60 * DAY : now - HOUR + i,
    f_float32: i % 3 === 0 ? null : i * 0.5,
    f_string: `s${i}`.repeat(i % 4),
  }));
}

test('writeNewRows from Arrow (one blob per call): the same rows, expiries, counts and count of row keys as from JS values, and the same fence', async (t) => {
  const { store, raw } = await openTestStore(t, { packedRowsPerCall: 7 });
  const now = Date.now();
  const rows = manyRows(300, now);
  const table = toViewTable(everyType, rows, LENIENT);
  const { keys } = rowKeysAndTimes(everyType, table);
  const order = Int32Array.from({ length: rows.length }, (_, i) => (i * 37) % rows.length);
  const orderedKeys = Array.from(order, (r) => keys[r]!);
  const fromArrow = onlineTargetOf('shop', everyType, 1);
  const fromValues = onlineTargetOf('shop', everyType, 2);
  await store.markGeneration(fromArrow);
  await store.markGeneration(fromValues);
  const expired = rows.filter((r) => r.event_timestamp === now - 60 * DAY).length;
  const expected = { written: rows.length - expired, skipped: 0, expired };
  // Without a source: writePacked, an expiry and a row argument per row (PACKED_FRESH_WRITE_MANY_LUA).
  assert.deepEqual(await store.writeNewRows(fromValues, tableToOnlineColumns(everyType, takeRows(table, order), orderedKeys)), expected);
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowOnlineColumns(everyType, table, order, orderedKeys)), expected);
  const entity = (i: number) => [rows[i]!.user_id as string, rows[i]!.merchant_id as bigint];
  for (let i = 0; i < rows.length; i++) {
    const [a, b] = [await store.rowKey(fromValues, entity(i)), await store.rowKey(fromArrow, entity(i))];
    assert.notEqual(a, b);
    assert.deepEqual(await raw.getBuffer(b), await raw.getBuffer(a), `row ${i}: same bytes`);
    assert.equal(await raw.call('PEXPIRETIME', b), await raw.call('PEXPIRETIME', a), `row ${i}: same expiry`);
  }
  assert.equal(await store.countedRowKeys(fromArrow), expected.written);
  assert.equal(await store.countedRowKeys(fromValues), expected.written);
  assert.equal(await store.countRowKeys(fromArrow), expected.written);

  // The catch-up closed the fence and wrote a newer row 1: a zombie build attempt skips it, writes a newer row 2.
  assert.equal(await store.recordApplied(fromArrow, 3), 3);
  assert.deepEqual(await store.writeRows(fromArrow, [{ entityKey: entity(1), values: { f_int32: 5 }, eventTime: now - 10, createdTime: 0 }]), { written: 1, skipped: 0, expired: 0 });
  const zombie = toViewTable(everyType, [rows[1]!, { ...rows[2]!, event_timestamp: now - 5, f_int32: 6 }], LENIENT);
  const zombieColumns = () => arrowOnlineColumns(everyType, zombie, Int32Array.of(0, 1), rowKeysAndTimes(everyType, zombie).keys);
  assert.deepEqual(await store.writeNewRows(fromArrow, zombieColumns()), { written: 1, skipped: 1, expired: 0 });
  const stored = (await store.readRows([{ target: fromArrow, entityKeys: [entity(1), entity(2)] }]))[0]!;
  assert.deepEqual(stored.map((r) => r?.values.f_int32), [5, 6]);
  // The same again: equal rows are not newer, nothing written.
  assert.deepEqual(await store.writeNewRows(fromArrow, zombieColumns()), { written: 0, skipped: 2, expired: 0 });
  assert.equal(await store.countedRowKeys(fromArrow), expected.written, 'no key created or deleted');
  // No marker (Redis lost the generation): monotonic too, an older row skipped.
  await raw.del(store.layout.markerKey(fromArrow));
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowOnlineColumns(everyType, table, Int32Array.of(1), [keys[1]!])), { written: 0, skipped: 1, expired: 0 });
});

test('PACKED_FRESH_WRITE_BLOB_LUA: a malformed blob is refused whole, naming the row', async (t) => {
  const { store, raw, prefix } = await openTestStore(t);
  const marker = `${prefix}:marker`;
  const uncounted = store.layout.uncountedKey(marker);
  await raw.hset(marker, 'createdAt', '1', 'rows', '0');
  const [k1, k2] = [`${prefix}:{b}:one`, `${prefix}:{b}:two`];
  const row = (expiry: number, bytes: Buffer, length = bytes.length) => {
    const header = Buffer.alloc(12);
    header.writeDoubleBE(expiry, 0);
    header.writeUInt32BE(length, 8);
    return Buffer.concat([header, bytes]);
  };
  const packed = Buffer.alloc(20, 1);
  const later = Date.now() + HOUR;
  const write = (...blob: Buffer[]) => raw.eval(PACKED_FRESH_WRITE_BLOB_LUA, 4, marker, uncounted, k1, k2, Buffer.concat(blob));

  assert.deepEqual(await write(row(later, packed), row(later, packed)), [2, 0, 0, 1]);
  assert.equal(await raw.call('PEXPIRETIME', k1), later);
  assert.equal(await raw.hget(marker, 'rows'), '2', 'two keys created, counted');
  await raw.del(k1, k2);
  await raw.hset(marker, 'rows', '0');
  const refused: [string, Buffer[], RegExp][] = [
    ['row 2 cut short', [row(later, packed), row(later, packed).subarray(0, 25)], /row 2 \(.*:\{b\}:two\) has no numeric expiry and packed row/],
    ['row 2 without its header', [row(later, packed), Buffer.alloc(5)], /row 2 \(.*:\{b\}:two\)/],
    ['row 1 shorter than the times', [row(later, Buffer.alloc(15)), row(later, packed)], /row 1 \(.*:\{b\}:one\)/],
    ['row 2 expiry not a number', [row(later, packed), row(Number.NaN, packed)], /row 2 \(.*:\{b\}:two\)/],
    ['row 1 expiry infinite', [row(Number.POSITIVE_INFINITY, packed), row(later, packed)], /row 1 \(.*:\{b\}:one\)/],
    ['bytes after the last row', [row(later, packed), row(later, packed), Buffer.alloc(3)], /3 bytes after the last of 2 rows/],
  ];
  for (const [why, blob, message] of refused) {
    await assert.rejects(write(...blob), message, why);
    assert.equal(await raw.exists(k1, k2), 0, `${why}: nothing written`);
    assert.equal(await raw.hget(marker, 'rows'), '0', `${why}: nothing counted`);
  }
  await assert.rejects(raw.eval(PACKED_FRESH_WRITE_BLOB_LUA, 4, marker, uncounted, k1, k2, row(later, packed), row(later, packed)), /2 rows need 1 argument, got 2/);
  assert.equal(await raw.exists(k1, k2, uncounted), 0);
});
