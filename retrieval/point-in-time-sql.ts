import { parseValueType, type JoinKeyType, type ScalarType, type ValueType } from '../definitions/value-type.ts';
import { ident, literal } from './duckdb-session.ts';

/** One view's side of the point-in-time join, as DuckDB reads it. */
export interface PointInTimeView {
  /** Its committed objects as local Parquet files, named in read (commit) order. */
  readonly files: readonly string[];
  /** Join keys: the column in the objects, its type, and the entity table's expression for it. */
  readonly keys: readonly { readonly column: string; readonly type: JoinKeyType; readonly entitySql: string }[];
  readonly eventTimestampColumn: string;
  readonly createdTimestampColumn: string | null;
  /** The features to read; `present: false` when no object holds the column (read as nulls). */
  readonly features: readonly { readonly name: string; readonly type: ValueType; readonly present: boolean }[];
  /** The objects' column sets differ (older additive schema versions): read by name, missing columns null. */
  readonly unionByName: boolean;
  readonly ttlMs: number;
  /**
   * The files hold the view's staged rows already (viewStagedRowsSql's columns k0.., e, c, o, r,
   * then the features), as a distributed retrieval's partitions do; default false (offline objects).
   */
  readonly staged?: boolean;
}

export interface PointInTimeQuery {
  /** The entity table's Parquet file, its columns to keep, its event time expression over `l`. */
  readonly entities: { readonly path: string; readonly columns: readonly string[]; readonly timeSql: string };
  readonly views: readonly PointInTimeView[];
  /** Output feature columns in order: view index, feature, output name. */
  readonly output: readonly { readonly view: number; readonly feature: string; readonly name: string }[];
}

/**
 * The point-in-time join as one DuckDB query. Each view's rows are first reduced to one per
 * (join keys, event time): the greatest created time (null counts as 0), then the first in read
 * order (the object's place in commit order, from its staged file name, then its row), as the online store keeps the first of equal
 * rows. Then one ASOF LEFT JOIN per view picks, for each entity row, the row with the greatest
 * event time <= the row's time among rows with equal keys; the TTL's lower bound (inclusive) is
 * applied after the join, since ASOF takes one inequality. Times are compared as ms since epoch
 * (BIGINT), int keys as BIGINT (an int32 label column meets int64 objects). Output: the entity
 * table's columns, then the features, in the entity file's row order (file_row_number): every
 * row once, duplicates kept.
 *
 * @example
 *   pointInTimeSql({ entities, views: [userSpend], output: [{ view: 0, feature: 'spend', name: 'spend' }] })
 *   // => WITH l AS (SELECT *, epoch_ms(l."event_timestamp") AS "__granary_t", ... FROM read_parquet(... file_row_number = true) l),
 *   //    f0 AS (SELECT ... QUALIFY row_number() OVER (PARTITION BY k0, e ORDER BY c DESC, o, r) = 1)
 *   //    SELECT l."user_id", ..., CASE WHEN f0.e >= l."__granary_t" - 86400000 THEN f0."spend" END AS "spend"
 *   //    FROM l ASOF LEFT JOIN f0 ON l."__granary_k0_0" = f0.k0 AND l."__granary_t" >= f0.e ORDER BY l.file_row_number
 */
export function pointInTimeSql(query: PointInTimeQuery): string {
  const { entities, views } = query;
  const labelKeys = views.flatMap((v, i) => v.keys.map((k, j) => `${k.entitySql} AS ${ident(`__granary_k${i}_${j}`)}`));
  const ctes = [
    `l AS (SELECT *, ${entities.timeSql} AS "__granary_t"${labelKeys.map((k) => `, ${k}`).join('')}
      FROM read_parquet(${literal(entities.path)}, file_row_number = true) l)`,
    ...views.map((view, i) => `f${i} AS (${viewRows(view)})`),
  ];
  const columns = [
    ...entities.columns.map((c) => `l.${ident(c)}`),
    ...query.output.map((o) => {
      const ttl = views[o.view]!.ttlMs;
      return `CASE WHEN f${o.view}.e >= l."__granary_t" - ${Math.round(ttl)} THEN f${o.view}.${ident(o.feature)} END AS ${ident(o.name)}`;
    }),
  ];
  const joins = views.map((view, i) => {
    const on = view.keys.map((_, j) => `l.${ident(`__granary_k${i}_${j}`)} = f${i}.k${j}`);
    return `ASOF LEFT JOIN f${i} ON ${[...on, `l."__granary_t" >= f${i}.e`].join(' AND ')}`;
  });
  return `WITH ${ctes.join(',\n')}
SELECT ${columns.join(',\n  ')}
FROM l
${joins.join('\n')}
ORDER BY l.file_row_number`;
}

/** One view's rows, one per (keys, event time), with columns k0.., e (ms), then its features. */
function viewRows(view: PointInTimeView): string {
  if (view.files.length === 0) {
    return `SELECT ${[...view.keys.map((k, j) => `CAST(NULL AS ${k.type === 'string' ? 'VARCHAR' : 'BIGINT'}) AS k${j}`), 'CAST(NULL AS BIGINT) AS e', ...view.features.map((f) => `CAST(NULL AS ${duckType(f.type)}) AS ${ident(f.name)}`)].join(', ')} LIMIT 0`;
  }
  const source = view.staged ? `SELECT * FROM read_parquet([${view.files.map(literal).join(', ')}])` : viewStagedRowsSql(view);
  const partition = [...view.keys.map((_, j) => `k${j}`), 'e'].join(', ');
  return `SELECT ${[...view.keys.map((_, j) => `k${j}`), 'e', ...view.features.map((f) => ident(f.name))].join(', ')}
    FROM (${source})
    QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY c DESC, o, r) = 1`;
}

/**
 * A view's committed rows as the join reads them, before the one-per-(keys, event time)
 * reduction: k0.. (BIGINT or VARCHAR), e (event time, ms), c (created time, ms, null as 0), o
 * (the object's place in commit order), r (its row in the object), then the features cast to
 * their declared types (nulls for a feature no object holds). No files: no rows, the same columns.
 */
export function viewStagedRowsSql(view: Omit<PointInTimeView, 'staged' | 'ttlMs'>): string {
  const keys = view.keys.map((k, j) => `${k.type === 'string' ? `CAST(${ident(k.column)} AS VARCHAR)` : `CAST(${ident(k.column)} AS BIGINT)`} AS k${j}`);
  const features = view.features.map((f) => `${f.present ? `CAST(${ident(f.name)} AS ${duckType(f.type)})` : `CAST(NULL AS ${duckType(f.type)})`} AS ${ident(f.name)}`);
  if (view.files.length === 0) {
    const nulls = view.keys.map((k, j) => `CAST(NULL AS ${k.type === 'string' ? 'VARCHAR' : 'BIGINT'}) AS k${j}`);
    return `SELECT ${[...nulls, 'CAST(NULL AS BIGINT) AS e', 'CAST(0 AS BIGINT) AS c', 'CAST(0 AS INTEGER) AS o', 'CAST(0 AS BIGINT) AS r', ...view.features.map((f) => `CAST(NULL AS ${duckType(f.type)}) AS ${ident(f.name)}`)].join(', ')} LIMIT 0`;
  }
  const created = view.createdTimestampColumn === null ? '0' : `coalesce(epoch_ms(${ident(view.createdTimestampColumn)}), 0)`;
  const files = `[${view.files.map(literal).join(', ')}]`;
  return `SELECT ${[...keys, `epoch_ms(${ident(view.eventTimestampColumn)}) AS e`, `${created} AS c`, `CAST(regexp_extract(filename, 'o(\\d+)\\.parquet$', 1) AS INTEGER) AS o`, 'file_row_number AS r', ...features].join(', ')}
      FROM read_parquet(${files}, filename = true, file_row_number = true${view.unionByName ? ', union_by_name = true' : ''})`;
}

/** The DuckDB type of a value type: what the output Parquet declares. */
export function duckType(type: ValueType): string {
  const parsed = parseValueType(type)!;
  const scalar = SCALAR_DUCK_TYPES[parsed.scalar];
  return parsed.list ? `${scalar}[]` : scalar;
}

const SCALAR_DUCK_TYPES: Record<ScalarType, string> = {
  bool: 'BOOLEAN',
  int32: 'INTEGER',
  int64: 'BIGINT',
  float32: 'FLOAT',
  float64: 'DOUBLE',
  string: 'VARCHAR',
  bytes: 'BLOB',
  timestamp: 'TIMESTAMPTZ',
};
