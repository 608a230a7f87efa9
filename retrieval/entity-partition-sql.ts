import type { JoinKeyType } from '../definitions/value-type.ts';

/** One join-key value as SQL: its expression (BIGINT for int keys, VARCHAR for string keys) and its type. */
export interface PartitionKeySql {
  readonly sql: string;
  readonly type: JoinKeyType;
}

/**
 * The entity-hash partition of a row as a DuckDB expression, equal to what
 * pipelines/entity-partition.ts `entityPartition(encodeEntityKey(key), partitions)` gives in
 * JavaScript, so a distributed training set splits entities exactly as a rebuild does: the key
 * encoded as the online store encodes it (ints in decimal, text with '%' and '|' escaped, values
 * joined by '|'), then FNV-1a over its UTF-16 code units (a code point past U+FFFF counts as its
 * two surrogates), modulo the partition count. A row with a null key goes to partition 0 (it
 * matches no feature row anyway). test/retrieval/entity-partition-sql.test.ts checks it against
 * entityPartition.
 *
 * @example
 *   entityPartitionSql([{ sql: 'CAST(l."user_id" AS BIGINT)', type: 'int64' }], 8)
 *   // => 'CASE WHEN CAST(l."user_id" AS BIGINT) IS NULL THEN 0 ELSE list_reduce(list_prepend(2166136261::BIGINT, ...), lambda h, u: ...) % 8 END'
 */
export function entityPartitionSql(keys: readonly PartitionKeySql[], partitions: number): string {
  if (!Number.isSafeInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a whole number >= 1, got ${partitions}`);
  const encoded = keys
    .map((k) => (k.type === 'string' ? `replace(replace(${k.sql}, '%', '%25'), '|', '%7C')` : `CAST(${k.sql} AS VARCHAR)`))
    .join(` || '|' || `);
  const units = `flatten(list_transform(string_split(${encoded}, ''), lambda ch: CASE WHEN ch = '' THEN []::BIGINT[] WHEN unicode(ch) > 65535 THEN [55296 + ((unicode(ch) - 65536) >> 10), 56320 + ((unicode(ch) - 65536) & 1023)] ELSE [unicode(ch)::BIGINT] END))`;
  const anyNull = keys.map((k) => `${k.sql} IS NULL`).join(' OR ');
  return `CASE WHEN ${anyNull} THEN 0 ELSE list_reduce(list_prepend(2166136261::BIGINT, ${units}), lambda h, u: (xor(h, u) * 16777619) % 4294967296) % ${partitions} END`;
}
