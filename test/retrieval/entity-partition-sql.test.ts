// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { entityPartition } from '../../pipelines/entity-partition.ts';
import { encodeEntityKey } from '../../stores/online/key-layout.ts';
import { entityPartitionSql } from '../../retrieval/entity-partition-sql.ts';
import type { JoinKeyType } from '../../definitions/value-type.ts';

/**
 * A distributed training set splits entities with entityPartitionSql inside DuckDB; it must put
 * every entity where the rebuild's entityPartition(encodeEntityKey(key)) does, for every key kind:
 * ints (negative, past 2^53), text with the characters the key encoding escapes, non-ASCII text
 * and characters past U+FFFF (two UTF-16 units), the empty string, and keys of two values.
 */
const strings = ['u1', '', 'user-42', '50%|off', '%7C', 'héllo', '日本語', '😀x', 'a|b', ' spaced ', 'x'.repeat(300)];
const ints = [0n, 1n, -1n, 42n, -9007199254740993n, 9223372036854775807n, -9223372036854775808n, 123456789n];

async function partitionsInDuckDB(rows: readonly (readonly (string | bigint)[])[], types: readonly JoinKeyType[], partitions: number): Promise<number[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const values = rows.map((row, i) => `(${i}, ${row.map((v, j) => (types[j] === 'string' ? `'${String(v).replaceAll("'", "''")}'` : `CAST('${v}' AS BIGINT)`)).join(', ')})`);
    const sql = entityPartitionSql(types.map((type, j) => ({ sql: `k${j}`, type })), partitions);
    const reader = await connection.runAndReadAll(`SELECT i, ${sql} AS p FROM (VALUES ${values.join(', ')}) t(i, ${types.map((_, j) => `k${j}`).join(', ')}) ORDER BY i`);
    return reader.getRowObjects().map((r) => Number(r.p));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

test("entityPartitionSql puts every entity in the rebuild's partition (entityPartition of the encoded key)", async () => {
  const cases: { types: JoinKeyType[]; rows: (string | bigint)[][] }[] = [
    { types: ['string'], rows: strings.map((s) => [s]) },
    { types: ['int64'], rows: ints.map((n) => [n]) },
    { types: ['string', 'int64'], rows: strings.flatMap((s) => ints.slice(0, 4).map((n) => [s, n])) },
    { types: ['int64', 'string'], rows: ints.flatMap((n) => strings.slice(0, 5).map((s) => [n, s])) },
  ];
  for (const partitions of [1, 2, 7, 8, 256]) {
    for (const { types, rows } of cases) {
      const expected = rows.map((row) => entityPartition(encodeEntityKey(row), partitions));
      assert.deepEqual(await partitionsInDuckDB(rows, types, partitions), expected, `${types.join(',')} in ${partitions} partitions`);
    }
  }
  // 1,000 generated ids spread over 8 partitions, none empty: the hash is not degenerate.
  const ids = Array.from({ length: 1000 }, (_, i) => [`user-${i}`]);
  const spread = await partitionsInDuckDB(ids, ['string'], 8);
  assert.deepEqual(spread, ids.map((row) => entityPartition(encodeEntityKey(row), 8)));
  assert.equal(new Set(spread).size, 8);
});

test('a null key goes to partition 0; a partition count below 1 is refused', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(`SELECT ${entityPartitionSql([{ sql: 'CAST(NULL AS VARCHAR)', type: 'string' }], 8)} AS p`);
  assert.equal(Number(reader.getRowObjects()[0]!.p), 0);
  connection.closeSync();
  instance.closeSync();
  assert.throws(() => entityPartitionSql([{ sql: 'k', type: 'int64' }], 0), /partitions must be a whole number >= 1/);
});
