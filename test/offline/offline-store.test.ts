import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { Bool, Float32, Int64, makeData, makeVector, Table, TimestampMillisecond } from 'apache-arrow';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { buildColumn } from '../../arrow/build-column.ts';
import { MAX_ROW_GROUP_ROWS } from '../../stores/offline/encode-parquet.ts';
import { ObjectKeyError } from '../../stores/offline/object-key.ts';
import { ObjectNotFoundError } from '../../stores/offline/object-not-found-error.ts';
import type { OfflineStore, RowGroupBatch } from '../../stores/offline/offline-store.ts';
import { tableToOnlineRows } from '../../pipelines/row-conversion.ts';
import { takeRows } from '../../arrow/take-rows.ts';
import { viewSchema } from '../../arrow/view-schema.ts';
import { BACKENDS, everyType, everyTypeRows, listKeys, spend, T0 } from './offline-fixtures.ts';

/** The OfflineStore contract, run against every backend: a local folder and a real MinIO. */

const KEY = 'proj/every_type/v1/date=2024-05-01/b1.parquet';

async function readAll(store: OfflineStore, key: string, options = {}): Promise<RowGroupBatch[]> {
  const batches: RowGroupBatch[] = [];
  for await (const batch of store.readTable(key, options)) batches.push(batch);
  return batches;
}

/** A table of `spend` with n rows (user_i, T0 + i seconds, ...), built column-wise. */
function spendTable(n: number): Table {
  const ids = Array.from({ length: n }, (_, i) => `user_${i}`);
  const times = new BigInt64Array(n);
  const counts = new BigInt64Array(n);
  const amounts = new Float32Array(n);
  const vip = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    times[i] = BigInt(T0 + i * 1000);
    counts[i] = BigInt(i);
    amounts[i] = i / 4;
    if (i % 3 === 0) vip[i >> 3]! |= 1 << (i & 7);
  }
  const input = new Table({
    user_id: makeVector(buildColumn('string', ids)),
    event_timestamp: makeVector(makeData({ type: new TimestampMillisecond(), length: n, data: times })),
    spend_7d_avg: makeVector(makeData({ type: new Float32(), length: n, data: amounts })),
    txn_count_7d: makeVector(makeData({ type: new Int64(), length: n, data: counts })),
    is_vip: makeVector(makeData({ type: new Bool(), length: n, data: vip })),
  });
  return toViewTable(spend, input);
}

for (const backend of BACKENDS) {
  describe(`offline store contract: ${backend.name}`, () => {
    test('round trip of every value type, nulls and lists included', async (t) => {
      const store = await backend.open(t);
      const table = toViewTable(everyType, everyTypeRows());
      const info = await store.writeTable(KEY, table);
      assert.equal(info.key, KEY);
      assert.equal(info.rowCount, 3);
      const batches = await readAll(store, KEY);
      assert.equal(batches.length, 1);
      const back = batches[0]!.table;
      const describeSchema = (tb: Table) => tb.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`);
      assert.deepEqual(describeSchema(back), describeSchema(new Table(viewSchema(everyType))));
      assert.deepEqual(tableToOnlineRows(everyType, back), tableToOnlineRows(everyType, table));
      const [first] = tableToOnlineRows(everyType, back);
      assert.deepEqual(first!.entityKey, ['u1', 9_007_199_254_740_993n]);
      assert.deepEqual(first!.values.f_list_int64, [1n, null, 2n ** 63n - 1n]);
      assert.equal(first!.values.f_string, 'héllo ✓');
    });

    test('the same rows give the same bytes, however the table is chunked', async (t) => {
      const store = await backend.open(t);
      const table = spendTable(5000);
      const a = await store.writeTable('p/a.parquet', table);
      const b = await store.writeTable('p/b.parquet', table);
      // Same rows in three record batches of uneven sizes.
      const chunked = new Table([0, 1234, 4000].flatMap((start, i, all) => {
        const end = all[i + 1] ?? 5000;
        return takeRows(table, Int32Array.from({ length: end - start }, (_, k) => start + k)).batches;
      }));
      assert.equal(chunked.batches.length, 3);
      const c = await store.writeTable('p/c.parquet', chunked);
      assert.equal(a.checksum, b.checksum);
      assert.equal(a.checksum, c.checksum);
      assert.equal(a.bytes, c.bytes);
      const bytes = await store.getBytes('p/a.parquet');
      assert.equal(createHash('sha256').update(bytes).digest('hex'), a.checksum);
      // A retry rewrites the same key with the same bytes.
      const again = await store.writeTable('p/a.parquet', table);
      assert.deepEqual(again, a);
    });

    test('reads a multi-row-group object one row group at a time, resumes, projects', async (t) => {
      const store = await backend.open(t);
      const n = 300_000;
      const info = await store.writeTable('p/big.parquet', spendTable(n));
      assert.equal(info.rowCount, n);
      const all = await readAll(store, 'p/big.parquet');
      assert.deepEqual(
        all.map((b) => [b.rowGroup, b.rowGroupCount, b.table.numRows]),
        [
          [0, 3, MAX_ROW_GROUP_ROWS],
          [1, 3, MAX_ROW_GROUP_ROWS],
          [2, 3, n - 2 * MAX_ROW_GROUP_ROWS],
        ],
      );
      const resumed = await readAll(store, 'p/big.parquet', { fromRowGroup: 1 });
      assert.deepEqual(resumed.map((b) => b.rowGroup), [1, 2]);
      const firstResumed = tableToOnlineRows(spend, resumed[0]!.table, 0, 1)[0]!;
      assert.deepEqual(firstResumed.entityKey, [`user_${MAX_ROW_GROUP_ROWS}`]);
      assert.equal(firstResumed.eventTime, T0 + MAX_ROW_GROUP_ROWS * 1000);
      assert.equal(firstResumed.values.txn_count_7d, BigInt(MAX_ROW_GROUP_ROWS));

      const projected = await readAll(store, 'p/big.parquet', { columns: ['txn_count_7d', 'user_id'], fromRowGroup: 2 });
      assert.equal(projected.length, 1);
      assert.deepEqual(projected[0]!.table.schema.fields.map((f) => f.name), ['txn_count_7d', 'user_id']);
      assert.equal(projected[0]!.table.getChild('user_id')!.get(0), `user_${2 * MAX_ROW_GROUP_ROWS}`);

      assert.deepEqual(await readAll(store, 'p/big.parquet', { fromRowGroup: 3 }), []);
      await assert.rejects(readAll(store, 'p/big.parquet', { fromRowGroup: 4 }), RangeError);
      await assert.rejects(readAll(store, 'p/big.parquet', { columns: ['nope'] }), /no column 'nope'/);
    });

    test('bytes, existence, listing in key order, deletion', async (t) => {
      const store = await backend.open(t);
      await store.putBytes('p/x/2.bin', new Uint8Array([2]));
      await store.putBytes('p/x/1.bin', new Uint8Array([1, 1]));
      await store.putBytes('p/y.bin', new Uint8Array([3]));
      await store.putBytes('q/z.bin', new Uint8Array([4]));
      assert.deepEqual(await store.getBytes('p/x/1.bin'), new Uint8Array([1, 1]));
      assert.equal(await store.exists('p/x/1.bin'), true);
      assert.equal(await store.exists('p/x/3.bin'), false);
      assert.equal(await store.exists('p/x'), false, 'a folder is not an object');
      assert.deepEqual(await listKeys(store, 'p/'), ['p/x/1.bin', 'p/x/2.bin', 'p/y.bin']);
      assert.deepEqual(await listKeys(store, 'p/x/'), ['p/x/1.bin', 'p/x/2.bin']);
      assert.deepEqual(await listKeys(store, 'p/x/1'), ['p/x/1.bin']);
      assert.deepEqual(await listKeys(store, 'nothing/'), []);
      assert.deepEqual(await listKeys(store), ['p/x/1.bin', 'p/x/2.bin', 'p/y.bin', 'q/z.bin']);
      const [listed] = await (async () => { const out = []; for await (const o of store.list('p/x/1')) out.push(o); return out; })();
      assert.equal(listed!.bytes, 2);
      assert.ok(listed!.lastModified instanceof Date && listed!.lastModified.getTime() > Date.now() - 3_600_000);
      await store.delete('p/x/1.bin');
      await store.delete('p/x/1.bin'); // deleting twice is fine
      assert.equal(await store.exists('p/x/1.bin'), false);
      await assert.rejects(store.getBytes('p/x/1.bin'), ObjectNotFoundError);
      await assert.rejects(readAll(store, 'p/x/1.bin'), ObjectNotFoundError);
    });

    test('rejects unsafe keys', async (t) => {
      const store = await backend.open(t);
      for (const key of ['../x', '/abs', 'a//b', 'a/./b', 'a/../b', '', 'a\\b', 'a/.hidden', 'sp ace']) {
        await assert.rejects(store.putBytes(key, new Uint8Array([1])), ObjectKeyError, key);
      }
    });

    test('capabilities say whether objects are local files', async (t) => {
      const store = await backend.open(t);
      await store.putBytes('p/f.bin', new Uint8Array([1]));
      if (store.capabilities.localFiles) {
        assert.ok(store.localPath('p/f.bin').endsWith('/p/f.bin'));
        // Writes go through a temporary file and a rename: none is left behind.
        await store.writeTable('p/t.parquet', spendTable(10));
        assert.deepEqual((await readdir(store.localPath('p'))).sort(), ['f.bin', 't.parquet']);
      } else {
        assert.throws(() => store.localPath('p/f.bin'));
      }
      assert.match(store.root, store.capabilities.localFiles ? /^\// : /^s3:\/\//);
    });

    test('an empty table round-trips as an object with no row groups', async (t) => {
      const store = await backend.open(t);
      const info = await store.writeTable('p/empty.parquet', toViewTable(spend, []));
      assert.equal(info.rowCount, 0);
      assert.deepEqual(await readAll(store, 'p/empty.parquet'), []);
    });
  });
}
