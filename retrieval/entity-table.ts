import { stat, symlink, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { Field, makeData, RecordBatch, Schema, Struct, Table, TimestampMillisecond, vectorFromArray, type Data } from 'apache-arrow';
import type { JoinKeyType } from '../definitions/value-type.ts';
import { buildColumn } from '../arrow/build-column.ts';
import { takeRows } from '../arrow/take-rows.ts';
import { readInputFile } from '../ingest/batch-validation.ts';
import { encodeParquet } from '../stores/offline/encode-parquet.ts';
import { ident, literal, type DuckDBSession } from './duckdb-session.ts';
import { entityEventTimes } from './entity-event-times.ts';
import { entityKeys } from './entity-keys.ts';

/** A join key the entity table must have, for one view. */
export interface EntityJoinKey {
  readonly name: string;
  readonly type: JoinKeyType;
  /** The view needing it (for error messages). */
  readonly view: string;
}

/** Where the entity rows (labels) come from: an Arrow table, or a .parquet or .csv file. */
export type EntitySource = { readonly table: Table } | { readonly file: string };

/**
 * The entity table (labels) as DuckDB reads it: one Parquet file, its columns to keep, and SQL
 * expressions over its alias `l` for the event time (ms since epoch, BIGINT) and each join key
 * (BIGINT for int keys, VARCHAR for string keys).
 */
export interface EntityTable {
  readonly path: string;
  /** The entity table's own columns, in order: the output starts with them. */
  readonly columns: readonly string[];
  readonly rowCount: number;
  /** Event time range, ms; NaN when there are no rows. */
  readonly minTime: number;
  readonly maxTime: number;
  readonly timeSql: string;
  keySql(key: EntityJoinKey): string;
}

const HIDDEN = '__granary_key_';
const INT_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER']);

/**
 * Makes the entity rows readable by DuckDB, typed as the point-in-time join needs them. A
 * .parquet file whose event-timestamp column is a timestamp (any unit, with or without time
 * zone) and whose join keys are integer or text columns as the entities declare is read by
 * DuckDB as is, never through JavaScript. Anything else (a CSV file, keys as text, times as
 * ISO text or epoch numbers, dates) is typed in JavaScript the way ingestion types values
 * (entityKeys, entityEventTimes: errors name the row), the time column becomes a UTC millisecond
 * timestamp, and the result is written to `dir` as Parquet. A missing column, a null event
 * timestamp or an unreadable file is an error naming it.
 *
 * @example
 *   const labels = await entityTable(duck, { file: 'labels.parquet' }, 'event_timestamp', [{ name: 'user_id', type: 'int64', view: 'user_spend' }], dir);
 *   labels.keySql(key) // => 'CAST(l."user_id" AS BIGINT)'
 *   labels.timeSql     // => 'epoch_ms(l."event_timestamp")'
 */
export async function entityTable(
  duck: DuckDBSession,
  source: EntitySource,
  eventTimestampColumn: string,
  keys: readonly EntityJoinKey[],
  dir: string,
): Promise<EntityTable> {
  let table: Table | undefined;
  let path: string;
  let what: string;
  if ('file' in source && extname(source.file).toLowerCase() === '.parquet') {
    // DuckDB reads a path as a glob pattern: a link with a plain name reads the file as named.
    what = `entity file '${source.file}'`;
    if (!(await stat(source.file).catch(() => null))?.isFile()) throw new RangeError(`${what}: no such file`);
    path = join(dir, 'entities-input.parquet');
    await symlink(resolve(source.file), path);
  } else {
    table = 'table' in source ? source.table : await readInputFile(source.file);
    what = 'file' in source ? `entity file '${source.file}'` : 'entity table';
    path = join(dir, 'entities.parquet');
    await writeFile(path, await encodeParquet(table));
  }
  let described = await describe(duck, path, what);
  let plan = typingPlan(described, eventTimestampColumn, keys, what);
  if (!plan.native) {
    table ??= await readInputFile(path);
    const typed = typeInJavaScript(table, eventTimestampColumn, plan, what);
    path = join(dir, 'entities-typed.parquet');
    await writeFile(path, await encodeParquet(typed));
    described = await describe(duck, path, what);
    plan = typingPlan(described, eventTimestampColumn, keys, what);
  }

  const time = ident(eventTimestampColumn);
  const [stats] = await duck.rows(
    `SELECT count(*) AS n, min(epoch_ms(${time})) AS lo, max(epoch_ms(${time})) AS hi,
            min(file_row_number) FILTER (WHERE ${time} IS NULL) AS null_row
       FROM read_parquet(${literal(path)}, file_row_number = true)`,
  );
  if (stats!.null_row !== null) {
    throw new RangeError(`${what}: row ${Number(stats!.null_row) + 1}, column '${eventTimestampColumn}': the event timestamp is null`);
  }
  const hidden = new Set(plan.hidden.values());
  return {
    path,
    columns: described.map((c) => c.name).filter((name) => !hidden.has(name)),
    rowCount: Number(stats!.n),
    minTime: stats!.lo === null ? NaN : Number(stats!.lo),
    maxTime: stats!.hi === null ? NaN : Number(stats!.hi),
    timeSql: `epoch_ms(l.${time})`,
    keySql(key) {
      const column = `l.${ident(plan.hidden.get(keyId(key)) ?? key.name)}`;
      return key.type === 'string' ? column : `CAST(${column} AS BIGINT)`;
    },
  };
}

interface DescribedColumn {
  readonly name: string;
  readonly type: string;
}

interface TypingPlan {
  /** True when DuckDB can read every column the join needs as it is. */
  readonly native: boolean;
  readonly timeNative: boolean;
  /** Keys typed in JavaScript: key id -> its hidden column. */
  readonly hidden: Map<string, string>;
  readonly keys: readonly EntityJoinKey[];
}

async function describe(duck: DuckDBSession, path: string, what: string): Promise<DescribedColumn[]> {
  try {
    const rows = await duck.rows(`DESCRIBE SELECT * FROM read_parquet(${literal(path)})`);
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  } catch (error) {
    throw new RangeError(`${what}: cannot read it as Parquet: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function typingPlan(columns: readonly DescribedColumn[], eventTimestampColumn: string, keys: readonly EntityJoinKey[], what: string): TypingPlan {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const names = () => columns.map((c) => c.name).filter((n) => !n.startsWith(HIDDEN)).join(', ');
  const timeType = types.get(eventTimestampColumn);
  if (timeType === undefined) {
    throw new RangeError(`${what}: no event-timestamp column '${eventTimestampColumn}' (it has ${names()}); name it with eventTimestampColumn`);
  }
  const timeNative = timeType.startsWith('TIMESTAMP');
  const hidden = new Map<string, string>();
  const needed: EntityJoinKey[] = [];
  for (const key of keys) {
    const type = types.get(key.name);
    if (type === undefined) throw new RangeError(`${what} (for feature view '${key.view}'): no join-key column '${key.name}' (it has ${names()})`);
    const native = key.type === 'string' ? type === 'VARCHAR' : INT_TYPES.has(type);
    if (native) continue;
    const id = keyId(key);
    const column = `${HIDDEN}${key.name}_${key.type}`;
    if (types.has(column)) hidden.set(id, column);
    else if (!needed.some((k) => keyId(k) === id)) needed.push(key);
  }
  return { native: timeNative && needed.length === 0, timeNative, hidden, keys: needed };
}

/** The entity table with its event time as a UTC ms timestamp and the keys DuckDB cannot take as they are typed in hidden columns. */
function typeInJavaScript(table: Table, eventTimestampColumn: string, plan: TypingPlan, what: string): Table {
  const one = table.numRows > 0 && table.batches.length !== 1 ? takeRows(table, Int32Array.from({ length: table.numRows }, (_, i) => i)) : table;
  const fields = [...one.schema.fields];
  const children: Data[] = one.numRows > 0 ? [...one.batches[0]!.data.children] : fields.map((f) => vectorFromArray([], f.type).data[0]!);
  if (!plan.timeNative) {
    const at = fields.findIndex((f) => f.name === eventTimestampColumn);
    fields[at] = new Field(eventTimestampColumn, new TimestampMillisecond('UTC'), false);
    children[at] = buildColumn('timestamp', Array.from(entityEventTimes(one, eventTimestampColumn, what)));
  }
  for (const key of plan.keys) {
    const values = entityKeys(one, [key], `${what} (for feature view '${key.view}')`);
    fields.push(new Field(`${HIDDEN}${key.name}_${key.type}`, buildColumn(key.type, []).type, true));
    children.push(buildColumn(key.type, key.type === 'int64' ? values.map((v) => (v === null ? null : BigInt(v))) : values));
  }
  const schema = new Schema(fields);
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length: one.numRows, nullCount: 0, children }))]);
}

function keyId(key: EntityJoinKey): string {
  return `${key.name}:${key.type}`;
}
