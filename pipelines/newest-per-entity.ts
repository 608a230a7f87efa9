import type { Table } from 'apache-arrow';
import { takeRows } from '../arrow/take-rows.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { OnlineRow } from '../stores/online/online-store.ts';
import { rowKeysAndTimes, tableToOnlineRows } from './row-conversion.ts';

/** Where an entity's newest row so far lies: a slot in flat typed arrays, no object per row. */
const INITIAL_SLOTS = 1024;

/**
 * The newest row of each entity over many offline tables, decided on keys and times alone
 * (rowKeysAndTimes), so only the winners are ever converted to values: the reduction that lets
 * materialization write one row per entity of a batch of commits instead of every row.
 *
 * "Newest" is the online store's order (row-conversion.ts `replaces`): the greatest (event time,
 * created time); on an exact tie the row added first stays, as the monotonic write would keep
 * it had the rows been written one by one in the order added. So writing the winners, with the
 * monotonic write, leaves Redis exactly as writing every row would.
 *
 * Memory: the tables added (their Arrow buffers) plus one map entry, its key and 28 bytes per entity.
 *
 * @example
 *   const newest = new NewestPerEntity(view);
 *   newest.add(tableA, (et, ct) => !isFutureRow(et, ct, limitA)); // => rows refused by the filter
 *   newest.add(tableB);
 *   for (const { table, rows } of newest.winners()) write(takeRows(table, rows));
 */
export class NewestPerEntity {
  private readonly slotOf = new Map<string, number>();
  private readonly tables: Table[] = [];
  private readonly keyOf: string[] = [];
  private eventTimes = new Float64Array(INITIAL_SLOTS);
  private createdTimes = new Float64Array(INITIAL_SLOTS);
  private tableOf = new Int32Array(INITIAL_SLOTS);
  private rowOf = new Int32Array(INITIAL_SLOTS);
  /** Tables offered by addDistinct and not indexed yet (their rows are winners as they are). */
  private distinct: { readonly table: number; readonly keys: string[]; readonly eventTimes: Float64Array; readonly createdTimes: Float64Array }[] = [];
  private distinctRows = 0;
  /** Rows offered (refused ones included). */
  rowsRead = 0;

  constructor(private readonly view: FeatureView) {}

  /** Entities seen so far. */
  get entities(): number {
    return this.slotOf.size + this.distinctRows;
  }

  /** Whether a row of the entity (its encoded key) was kept. */
  has(key: string): boolean {
    this.index();
    return this.slotOf.has(key);
  }

  /**
   * Offers a table whose rows are already one per entity, of entities not offered before: a
   * compacted snapshot's run (the newest row of each entity). Before any add(): its rows are
   * winners as they are, with no per-entity index, until an add() or has() needs one (then they
   * are indexed as add() would have, the newest rule included). The snapshot rebuild reads only
   * such tables, so it keeps no map of its entities.
   */
  addDistinct(table: Table): void {
    if (this.slotOf.size > 0) throw new Error('NewestPerEntity.addDistinct: rows were already added; use add()');
    const { keys, eventTimes, createdTimes } = rowKeysAndTimes(this.view, table);
    const t = this.tables.push(table) - 1;
    this.distinct.push({ table: t, keys, eventTimes, createdTimes });
    this.distinctRows += keys.length;
    this.rowsRead += keys.length;
  }

  /**
   * The winners converted to online rows, `size` at a time, in winners() order, after the first
   * `from` (what an earlier attempt already handled: the order is deterministic). `done` counts
   * the winners handled once the chunk is.
   */
  async *rowChunks(size: number, from = 0): AsyncGenerator<{ readonly rows: OnlineRow[]; readonly done: number }> {
    for (const { table, done } of this.tableChunks(size, from)) yield { rows: tableToOnlineRows(this.view, table), done };
  }

  /**
   * rowChunks before the conversion: each chunk's winners as a table of their own (takeRows) with
   * their encoded entity keys, for readers that take columns (tableToOnlineColumns).
   */
  *tableChunks(size: number, from = 0): Generator<{ readonly table: Table; readonly keys: string[]; readonly done: number }> {
    for (const { table, rows, keys, done } of this.rowIndexChunks(size, from)) yield { table: takeRows(table, rows), keys, done };
  }

  /**
   * tableChunks without the copy: each chunk's winners as row numbers of the table they are in
   * (for readers that take rows by index: arrow-online-columns.ts, the Arrow row packer).
   */
  *rowIndexChunks(size: number, from = 0): Generator<{ readonly table: Table; readonly rows: Int32Array; readonly keys: string[]; readonly done: number }> {
    let done = 0;
    for (const { table, rows, keys } of this.winners()) {
      for (let start = 0; start < rows.length; start += size) {
        const end = Math.min(start + size, rows.length);
        const before = done;
        done += end - start;
        if (done <= from) continue;
        const first = before >= from ? start : start + from - before;
        yield { table, rows: rows.subarray(first, end), keys: keys.slice(first, end), done };
      }
    }
  }

  /**
   * Offers every row of `table`, in order; `valid` (when given) refuses a row from its times;
   * `only` (when given) passes over the rows of other entities (an entity-hash partition) without
   * counting them as refused. Returns the number of rows refused.
   */
  add(table: Table, valid?: (eventTime: number, createdTime: number) => boolean, only?: (key: string) => boolean): number {
    this.index();
    const { keys, eventTimes, createdTimes } = rowKeysAndTimes(this.view, table);
    const t = this.tables.push(table) - 1;
    let refused = 0;
    for (let i = 0; i < keys.length; i++) {
      const et = eventTimes[i]!;
      const ct = createdTimes[i]!;
      const key = keys[i]!;
      if (only && !only(key)) continue;
      if (valid && !valid(et, ct)) {
        refused++;
        continue;
      }
      this.offer(key, et, ct, t, i);
    }
    this.rowsRead += keys.length;
    return refused;
  }

  /** Keeps the row if it is the entity's first or newer than the one kept. */
  private offer(key: string, et: number, ct: number, t: number, i: number): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) {
      const next = this.slotOf.size;
      if (next === this.rowOf.length) this.grow();
      this.slotOf.set(key, next);
      this.keyOf.push(key);
      this.set(next, et, ct, t, i);
    } else if (et > this.eventTimes[slot]! || (et === this.eventTimes[slot]! && ct > this.createdTimes[slot]!)) {
      this.set(slot, et, ct, t, i);
    }
  }

  /** Indexes the addDistinct tables' rows, in the order offered, as add() would have. */
  private index(): void {
    if (this.distinct.length === 0) return;
    const distinct = this.distinct;
    this.distinct = [];
    this.distinctRows = 0;
    for (const { table, keys, eventTimes, createdTimes } of distinct) {
      for (let i = 0; i < keys.length; i++) this.offer(keys[i]!, eventTimes[i]!, createdTimes[i]!, table, i);
    }
  }

  /**
   * The winning rows, table by table in the order added, each table's rows ascending: a
   * deterministic order, so a retry that adds the same tables can skip what it already wrote.
   * `keys[i]` is the encoded entity key of `rows[i]`. With `group`, the winners are split by
   * `group(key)` (an entity-hash partition) first, groups in ascending order.
   */
  *winners(group?: (key: string) => number): Generator<{ readonly group: number; readonly table: Table; readonly rows: Int32Array; readonly keys: string[] }> {
    if (group === undefined && this.slotOf.size === 0) {
      // Only addDistinct tables: every row wins, table by table, in row order (as below).
      for (const { table, keys } of this.distinct) if (keys.length > 0) yield { group: 0, table: this.tables[table]!, rows: Int32Array.from(keys, (_, i) => i), keys };
      return;
    }
    this.index();
    // Each table's winning rows in row order, without sorting: a slot per row of the table.
    const slotAtRow = this.tables.map(() => null as Int32Array | null);
    for (let s = 0; s < this.slotOf.size; s++) {
      const t = this.tableOf[s]!;
      (slotAtRow[t] ??= new Int32Array(this.tables[t]!.numRows).fill(-1))[this.rowOf[s]!] = s;
    }
    const groups = new Map<number, { rows: number[]; keys: string[] }[]>();
    slotAtRow.forEach((slots, t) => {
      if (!slots) return;
      for (let row = 0; row < slots.length; row++) {
        const s = slots[row]!;
        if (s < 0) continue;
        const key = this.keyOf[s]!;
        const g = group ? group(key) : 0;
        let tables = groups.get(g);
        if (!tables) groups.set(g, (tables = []));
        const at = (tables[t] ??= { rows: [], keys: [] });
        at.rows.push(row);
        at.keys.push(key);
      }
    });
    for (const g of [...groups.keys()].sort((a, b) => a - b)) {
      const tables = groups.get(g)!;
      for (let t = 0; t < tables.length; t++) {
        const at = tables[t];
        if (at) yield { group: g, table: this.tables[t]!, rows: Int32Array.from(at.rows), keys: at.keys };
      }
    }
  }

  private set(slot: number, eventTime: number, createdTime: number, table: number, row: number): void {
    this.eventTimes[slot] = eventTime;
    this.createdTimes[slot] = createdTime;
    this.tableOf[slot] = table;
    this.rowOf[slot] = row;
  }

  private grow(): void {
    const size = this.rowOf.length * 2;
    const grown = <A extends Float64Array | Int32Array>(from: A, to: A): A => {
      to.set(from);
      return to;
    };
    this.eventTimes = grown(this.eventTimes, new Float64Array(size));
    this.createdTimes = grown(this.createdTimes, new Float64Array(size));
    this.tableOf = grown(this.tableOf, new Int32Array(size));
    this.rowOf = grown(this.rowOf, new Int32Array(size));
  }
}
