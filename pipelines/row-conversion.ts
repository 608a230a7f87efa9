import type { Data, Table } from 'apache-arrow';
import type { FeatureView } from '../definitions/feature-view.ts';
import { encodeEntityKey } from '../stores/online/key-layout.ts';
import type { OnlineColumns, OnlineRow } from '../stores/online/online-store.ts';
import type { EntityKey, FeatureValue } from '../definitions/feature-value.ts';
import { columnValues, timestampMillis } from '../arrow/column-values.ts';
import { eventDateOf } from '../stores/offline/object-key.ts';
import { takeRows } from '../arrow/take-rows.ts';

/**
 * From offline rows (an Arrow table in the view's schema) to what the online store takes, and the
 * two facts the offline layout needs: each row's event date, and the event time range.
 *
 * Entity keys hold the join-key values in the view's entity order: string keys as strings, int32
 * keys as numbers, int64 keys as bigints (exact beyond 2^53, like int64 feature values). Values
 * use the canonical FeatureValue form; eventTime and createdTime are ms since epoch, createdTime
 * 0 when the source has no created timestamp or the cell is null.
 *
 * A feature column missing from the table (an object written before a nullable feature was
 * added to the view) reads as nulls; a missing join-key or event-timestamp column is an error.
 *
 * @example
 *   tableToOnlineRows(userSpend, table, 0, 1)
 *   // => [{ entityKey: ['u1'], values: { spend_7d_avg: 12.5, txn_count_7d: 3n },
 *   //       eventTime: 1714521600000, createdTime: 1714525200000 }]
 */
export function tableToOnlineRows(view: FeatureView, table: Table, start = 0, end = table.numRows): OnlineRow[] {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > table.numRows || start > end) {
    throw new RangeError(`rows ${start}..${end} are outside the table (0..${table.numRows})`);
  }
  const keyColumns = view.entities.map((e) => requiredColumn(view, table, e.joinKey));
  const eventColumn = requiredColumn(view, table, view.source.eventTimestampColumn);
  const createdColumn = columnIndex(table, view.source.createdTimestampColumn);
  const features = view.features.map((f) => ({ name: f.name, type: f.type, column: columnIndex(table, f.name) }));
  const names = features.map((f) => f.name);

  const rows: OnlineRow[] = new Array(end - start);
  let batchStart = 0;
  for (const batch of table.batches) {
    const batchEnd = batchStart + batch.numRows;
    const from = Math.max(start, batchStart) - batchStart;
    const to = Math.min(end, batchEnd) - batchStart;
    if (from < to) {
      const n = to - from;
      const chunk = (column: number): Data => batch.data.children[column]!;
      const keys = keyColumns.map((c, k) => columnValues(chunk(c), view.entities[k]!.valueType, from, to));
      const eventTimes = timestampMillis(chunk(eventColumn), from, to);
      const createdTimes = createdColumn < 0 ? null : timestampMillis(chunk(createdColumn), from, to);
      const nulls: (FeatureValue | null)[] = new Array(n).fill(null);
      const columns = features.map((f) => (f.column < 0 ? nulls : columnValues(chunk(f.column), f.type, from, to)));
      const offset = batchStart + from - start;
      const single = keys.length === 1 ? keys[0]! : null;
      for (let i = 0; i < n; i++) {
        const values: Record<string, FeatureValue | null> = {};
        for (let f = 0; f < names.length; f++) values[names[f]!] = columns[f]![i]!;
        const entityKey = (single ? [single[i]!] : keys.map((k) => k[i]!)) as EntityKey;
        rows[offset + i] = { entityKey, values, eventTime: eventTimes[i]!, createdTime: createdTimes ? createdTimes[i]! : 0 };
      }
    }
    batchStart = batchEnd;
  }
  return rows;
}

/**
 * tableToOnlineRows without an object per row: the table's times and each feature's values as
 * columns (OnlineColumns), with the rows' encoded entity keys given by the caller (who usually
 * has them already, from rowKeysAndTimes). A feature column missing from the table is left out
 * (the store reads it as nulls).
 *
 * @example
 *   tableToOnlineColumns(userSpend, table, ['u1']).values.txn_count_7d // => [3n]
 */
export function tableToOnlineColumns(view: FeatureView, table: Table, keys: readonly string[]): OnlineColumns {
  if (keys.length !== table.numRows) throw new RangeError(`${keys.length} keys for ${table.numRows} rows`);
  const eventColumn = requiredColumn(view, table, view.source.eventTimestampColumn);
  const createdColumn = columnIndex(table, view.source.createdTimestampColumn);
  const features = view.features.map((f) => ({ name: f.name, type: f.type, column: columnIndex(table, f.name) })).filter((f) => f.column >= 0);
  const eventTimes = new Float64Array(table.numRows);
  const createdTimes = new Float64Array(table.numRows);
  const values: Record<string, (FeatureValue | null)[]> = {};
  for (const f of features) values[f.name] = table.batches.length === 1 ? [] : new Array<FeatureValue | null>(table.numRows);
  let offset = 0;
  for (const batch of table.batches) {
    const n = batch.numRows;
    const chunk = (column: number): Data => batch.data.children[column]!;
    eventTimes.set(timestampMillis(chunk(eventColumn), 0, n), offset);
    if (createdColumn >= 0) createdTimes.set(timestampMillis(chunk(createdColumn), 0, n), offset);
    for (const f of features) {
      const column = columnValues(chunk(f.column), f.type, 0, n);
      if (table.batches.length === 1) values[f.name] = column;
      else for (let i = 0; i < n; i++) values[f.name]![offset + i] = column[i]!;
    }
    offset += n;
  }
  return { keys, eventTimes, createdTimes, values };
}

/** Each row's entity key (encoded, key-layout.ts) and times, without converting its features. */
export interface RowKeysAndTimes {
  readonly keys: string[];
  readonly eventTimes: Float64Array;
  /** All 0 when the source has no created timestamp. */
  readonly createdTimes: Float64Array;
}

/**
 * The cheap part of tableToOnlineRows: entity keys and times only, so a reader can pick the rows
 * it needs (an entity-hash partition, the newest row of an entity) before converting them.
 *
 * @example
 *   rowKeysAndTimes(userSpend, table).keys[0] // => 'u1'
 */
export function rowKeysAndTimes(view: FeatureView, table: Table): RowKeysAndTimes {
  const keyColumns = view.entities.map((e) => requiredColumn(view, table, e.joinKey));
  const eventColumn = requiredColumn(view, table, view.source.eventTimestampColumn);
  const createdColumn = columnIndex(table, view.source.createdTimestampColumn);
  const keys: string[] = new Array(table.numRows);
  const eventTimes = new Float64Array(table.numRows);
  const createdTimes = new Float64Array(table.numRows);
  let offset = 0;
  for (const batch of table.batches) {
    const n = batch.numRows;
    const chunk = (column: number): Data => batch.data.children[column]!;
    const values = keyColumns.map((c, k) => columnValues(chunk(c), view.entities[k]!.valueType, 0, n));
    for (let i = 0; i < n; i++) keys[offset + i] = encodeEntityKey(values.map((v) => v[i]!) as EntityKey);
    eventTimes.set(timestampMillis(chunk(eventColumn), 0, n), offset);
    if (createdColumn >= 0) createdTimes.set(timestampMillis(chunk(createdColumn), 0, n), offset);
    offset += n;
  }
  return { keys, eventTimes, createdTimes };
}

/**
 * The rows of a table that `wanted` picks from their encoded entity key and times alone,
 * converted (tableToOnlineRows) with their keys: a reader that keeps a few rows of many (an
 * entity-hash partition, the newest row per entity) converts only those.
 *
 * @example
 *   convertRowsWhere(view, table, (key, eventTime, createdTime) => replaces(eventTime, createdTime, latest.get(key)))
 */
export function convertRowsWhere(
  view: FeatureView,
  table: Table,
  wanted: (key: string, eventTime: number, createdTime: number) => boolean,
): { key: string; row: OnlineRow }[] {
  const { keys, eventTimes, createdTimes } = rowKeysAndTimes(view, table);
  const picked: number[] = [];
  for (let i = 0; i < keys.length; i++) if (wanted(keys[i]!, eventTimes[i]!, createdTimes[i]!)) picked.push(i);
  if (picked.length === 0) return [];
  const rows = tableToOnlineRows(view, takeRows(table, Int32Array.from(picked)));
  return rows.map((row, j) => ({ key: keys[picked[j]!]!, row }));
}

/**
 * Whether a row with these times replaces `than` (none yet counts as replaced): a strictly
 * greater (event time, created time), the order the online store's monotonic write keeps.
 *
 * @example
 *   replaces(2000, 0, { eventTime: 1000, createdTime: 5 }) // => true
 */
export function replaces(eventTime: number, createdTime: number, than: { readonly eventTime: number; readonly createdTime: number } | undefined): boolean {
  return !than || eventTime > than.eventTime || (eventTime === than.eventTime && createdTime > than.createdTime);
}

/**
 * Splits a view table by the UTC day of its event timestamps, in date order, keeping row order
 * within a day. A table whose rows share one day comes back as is (no copy).
 *
 * @example
 *   [...splitByEventDate(view, table).keys()] // => ['2024-05-01', '2024-05-02']
 */
export function splitByEventDate(view: FeatureView, table: Table): Map<string, Table> {
  const times = eventTimes(view, table);
  const days = new Float64Array(times.length);
  const counts = new Map<number, number>();
  for (let i = 0; i < times.length; i++) {
    const day = Math.floor(times[i]! / 86_400_000);
    days[i] = day;
    counts.set(day, (counts.get(day) ?? 0) + 1);
  }
  const order = [...counts.keys()].sort((a, b) => a - b);
  if (order.length === 1) return new Map([[eventDateOf(order[0]! * 86_400_000), table]]);
  const rowsOf = new Map(order.map((day) => [day, { rows: new Int32Array(counts.get(day)!), n: 0 }]));
  for (let i = 0; i < days.length; i++) {
    const slot = rowsOf.get(days[i]!)!;
    slot.rows[slot.n++] = i;
  }
  return new Map(order.map((day) => [eventDateOf(day * 86_400_000), takeRows(table, rowsOf.get(day)!.rows)]));
}

/** The smallest and greatest event time of a non-empty view table, in ms since epoch. */
export function eventTimeRange(view: FeatureView, table: Table): { min: number; max: number } {
  if (table.numRows === 0) throw new RangeError(`view '${view.name}': an empty table has no event time range`);
  const times = eventTimes(view, table);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (t < min) min = t;
    if (t > max) max = t;
  }
  return { min, max };
}

function eventTimes(view: FeatureView, table: Table): Float64Array {
  const column = requiredColumn(view, table, view.source.eventTimestampColumn);
  const out = new Float64Array(table.numRows);
  let at = 0;
  for (const batch of table.batches) {
    out.set(timestampMillis(batch.data.children[column]!, 0, batch.numRows), at);
    at += batch.numRows;
  }
  return out;
}

function requiredColumn(view: FeatureView, table: Table, name: string): number {
  const index = columnIndex(table, name);
  if (index < 0) throw new RangeError(`view '${view.name}': the table has no column '${name}'`);
  return index;
}

function columnIndex(table: Table, name: string | null): number {
  return name === null ? -1 : table.schema.fields.findIndex((f) => f.name === name);
}
