import { makeData, RecordBatch, Schema, Struct, Table, type Data } from 'apache-arrow';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { nullColumn } from '../arrow/null-column.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { fieldOf, viewColumns, type ViewColumn } from '../arrow/view-schema.ts';

/**
 * The committed offline objects of one view version, as readers of history see them: only
 * objects a commit row names are listed (uncommitted writes stay invisible), in commit order,
 * each with the features its schema version had. An object written before a nullable feature
 * was added (an older additive schema version) lacks that column; readCommittedRows fills it
 * with nulls.
 *
 * @example
 *   const objects = await committedObjects(registry, userSpend, { from: Date.UTC(2024, 4, 1) });
 *   objects[0] // => { key: 'fraud/user_spend/v1/date=2024-05-01/b1.parquet', seq: 7, schemaVersion: 1,
 *              //      rowCount: 1000, minEventTime: 1714521600000, maxEventTime: 1714607999000,
 *              //      features: ['spend_7d_avg'] }
 *   for await (const table of readCommittedRows(offline, userSpend, objects[0], ['spend_7d_avg', 'txn_count_7d'])) ...
 *   // tables with user_id, event_timestamp, created_timestamp, spend_7d_avg, txn_count_7d (nulls: not in schema version 1)
 */
export interface CommittedObject {
  readonly key: string;
  readonly seq: number;
  readonly schemaVersion: number;
  readonly rowCount: number;
  /** Event time range of the object's rows, ms since epoch. */
  readonly minEventTime: number;
  readonly maxEventTime: number;
  /**
   * The features the object holds (the view's features at its schema version), or null when the
   * registry has no record of that schema version: then the object's own columns decide.
   */
  readonly features: readonly string[] | null;
}

export interface CommittedObjectFilter {
  /** Only objects holding rows with event time >= from (ms). */
  readonly from?: number;
  /** Only objects holding rows with event time <= to (ms). */
  readonly to?: number;
}

export async function committedObjects(registry: Registry, view: FeatureView, filter: CommittedObjectFilter = {}): Promise<CommittedObject[]> {
  const featuresAt = new Map<number, string[]>();
  for (const state of await registry.history('featureView', view.name)) {
    if (state.version !== view.version || state.kind !== 'featureView') continue;
    const spec = state.spec as { features?: { name: string }[] };
    featuresAt.set(state.schemaVersion, (spec.features ?? []).map((f) => f.name));
  }
  const out: CommittedObject[] = [];
  for (const commit of await registry.commits(view.name, view.version)) {
    for (const o of commit.objects) {
      const min = o.minEventTime.getTime();
      const max = o.maxEventTime.getTime();
      if (filter.from !== undefined && max < filter.from) continue;
      if (filter.to !== undefined && min > filter.to) continue;
      out.push(
        Object.freeze({
          key: o.key,
          seq: commit.seq,
          schemaVersion: commit.schemaVersion,
          rowCount: o.rowCount,
          minEventTime: min,
          maxEventTime: max,
          features: featuresAt.get(commit.schemaVersion) ?? null,
        }),
      );
    }
  }
  return out;
}

/**
 * The columns historical reads need from a view's objects: join keys, event timestamp, created
 * timestamp (when the source has one), then the given features, in that order.
 */
export function committedRowColumns(view: FeatureView, features: readonly string[]): ViewColumn[] {
  const all = viewColumns(view);
  const byName = new Map(all.map((c) => [c.name, c]));
  const columns = all.filter((c) => c.role !== 'feature');
  for (const name of features) {
    const column = byName.get(name);
    if (!column || column.role !== 'feature') throw new RangeError(`feature view '${view.name}' has no feature '${name}'`);
    columns.push(column);
  }
  return columns;
}

/**
 * Reads one committed object a row group at a time, as tables of exactly committedRowColumns
 * (one schema instance for every object of the call's columns), features the object lacks as
 * nulls. Reads only the columns it needs.
 */
export async function* readCommittedRows(
  offline: OfflineStore,
  view: FeatureView,
  object: CommittedObject,
  features: readonly string[],
  schema: Schema = committedRowSchema(view, features),
): AsyncGenerator<Table> {
  const columns = committedRowColumns(view, features);
  const held = object.features === null ? null : new Set(object.features);
  const wanted = held === null ? undefined : columns.filter((c) => c.role !== 'feature' || held.has(c.name)).map((c) => c.name);
  for await (const { table } of offline.readTable(object.key, wanted ? { columns: wanted } : {})) {
    const index = new Map(table.schema.fields.map((f, i) => [f.name, i]));
    for (const c of columns) {
      if (c.role !== 'feature' && !index.has(c.name) && c.role !== 'createdTimestamp') {
        throw new RangeError(`offline object '${object.key}' of feature view '${view.name}' has no column '${c.name}'`);
      }
    }
    const batches = table.batches.map((batch) => {
      const children: Data[] = columns.map((c) => {
        const at = index.get(c.name);
        return at === undefined ? nullColumn(c, batch.numRows) : batch.data.children[at]!;
      });
      return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: batch.numRows, nullCount: 0, children }));
    });
    yield new Table(schema, batches);
  }
}

export function committedRowSchema(view: FeatureView, features: readonly string[]): Schema {
  return new Schema(committedRowColumns(view, features).map(fieldOf));
}
