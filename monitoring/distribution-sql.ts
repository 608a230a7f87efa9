import { DECILES } from './drift-statistics.ts';
import { ident, literal } from '../retrieval/duckdb-session.ts';

/**
 * The SQL of distribution monitoring, over DuckDB tables of one column per feature (`v_<i>`):
 * numeric features as DOUBLE, strings and bools as VARCHAR. Decile edges are `quantile_cont`
 * (linear interpolation between order statistics); a value's bin is the number of edges strictly
 * below it, so bin 0 is (-inf, e1] and bin 9 is (e9, +inf). KS is the largest distance between
 * the two empirical CDFs, evaluated at every distinct value of either side.
 *
 * @example
 *   binCountsSql('current', 'v_0', [1, 2, 3, 4, 5, 6, 7, 8, 9])
 *   // => SELECT (v_0 > 1)::INT + ... AS bin, count(*) AS n FROM current WHERE v_0 IS NOT NULL AND isfinite(v_0) GROUP BY bin
 */
export function numericFilter(column: string): string {
  return `${ident(column)} IS NOT NULL AND isfinite(${ident(column)})`;
}

export function decilesSql(table: string, column: string): string {
  return `SELECT quantile_cont(${ident(column)}, [${DECILES.join(', ')}]) AS edges FROM ${ident(table)} WHERE ${numericFilter(column)}`;
}

export function binCountsSql(table: string, column: string, edges: readonly number[]): string {
  const bin = edges.length === 0 ? '0' : edges.map((e) => `(${ident(column)} > ${doubleLiteral(e)})::INTEGER`).join(' + ');
  return `SELECT ${bin} AS bin, count(*)::BIGINT AS n FROM ${ident(table)} WHERE ${numericFilter(column)} GROUP BY bin`;
}

export function categoryCountsSql(table: string, column: string): string {
  return `SELECT ${ident(column)} AS category, count(*)::BIGINT AS n FROM ${ident(table)} WHERE ${ident(column)} IS NOT NULL GROUP BY category`;
}

export function countsSql(table: string, column: string, numeric: boolean): string {
  const present = numeric ? numericFilter(column) : `${ident(column)} IS NOT NULL`;
  return `SELECT count(*)::BIGINT AS rows, count(${ident(column)})::BIGINT AS non_null, count(*) FILTER (WHERE ${present})::BIGINT AS binned FROM ${ident(table)}`;
}

export function ksSql(baselineTable: string, currentTable: string, column: string): string {
  const c = ident(column);
  return `
    WITH u AS (
      SELECT ${c} AS v, 1::BIGINT AS a, 0::BIGINT AS b FROM ${ident(baselineTable)} WHERE ${numericFilter(column)}
      UNION ALL
      SELECT ${c} AS v, 0::BIGINT AS a, 1::BIGINT AS b FROM ${ident(currentTable)} WHERE ${numericFilter(column)}
    ),
    g AS (SELECT v, sum(a) AS na, sum(b) AS nb FROM u GROUP BY v),
    w AS (SELECT sum(na) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS ca, sum(nb) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS cb FROM g),
    t AS (SELECT sum(na) AS ta, sum(nb) AS tb FROM g)
    SELECT coalesce(max(abs(w.ca::DOUBLE / t.ta::DOUBLE - w.cb::DOUBLE / t.tb::DOUBLE)), 0) AS ks FROM w, t`;
}

/**
 * A table of the feature columns of staged objects, rows with event time in [fromMs, toMs)
 * (toMs exclusive; pass toMs = newest + 1 for an inclusive end).
 */
export function loadRowsSql(table: string, files: readonly string[], eventTimestamp: string, columns: readonly { name: string; alias: string; cast: 'DOUBLE' | 'VARCHAR' | 'EPOCH_MS' }[], fromMs: number, toMs: number): string {
  const select = columns
    .map((c) => (c.cast === 'EPOCH_MS' ? `epoch_ms(${ident(c.name)})::DOUBLE AS ${ident(c.alias)}` : `CAST(${ident(c.name)} AS ${c.cast}) AS ${ident(c.alias)}`))
    .join(', ');
  const list = `[${files.map(literal).join(', ')}]`;
  const t = `epoch_ms(${ident(eventTimestamp)})`;
  return `CREATE OR REPLACE TABLE ${ident(table)} AS SELECT ${select || '1 AS none'} FROM read_parquet(${list}, union_by_name = true) WHERE ${t} >= ${fromMs} AND ${t} < ${toMs}`;
}

/** A JavaScript number as a DuckDB DOUBLE literal that reads back exactly. */
export function doubleLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite edge: ${value}`);
  return `${value.toPrecision(17)}::DOUBLE`;
}
