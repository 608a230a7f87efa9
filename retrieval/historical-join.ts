import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, makeData, RecordBatch, Schema, Struct, Table, TimestampMillisecond, Type, type Data } from 'apache-arrow';
import type { FeatureView } from '../definitions/feature-view.ts';
import { buildColumn } from '../arrow/build-column.ts';
import { timestampMillis } from '../arrow/column-values.ts';
import { committedRowColumns, committedRowSchema, readCommittedRows, type CommittedObject } from './committed-objects.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { takeRows } from '../arrow/take-rows.ts';
import { arrowTypeOf, type ViewColumn } from '../arrow/view-schema.ts';
import { entityEventTimes } from './entity-event-times.ts';
import { entityKeys, hashEntityKey, type EntityKeyValue, type JoinKeyColumn } from './entity-keys.ts';
import { pointInTimeMatch } from './point-in-time-match.ts';
import { SpillFiles } from './spill-files.ts';
import { takeOrNull } from './take-or-null.ts';

/** One view's part in a join: its features, its committed objects, its look-back. */
export interface HistoricalView {
  readonly view: FeatureView;
  /** The view's features to read, each once. */
  readonly features: readonly string[];
  /** Its committed objects to read (see committedObjects). */
  readonly objects: readonly CommittedObject[];
  /** Look-back in ms instead of the view's TTL (a snapshot's start..end window). */
  readonly ttlMs?: number;
}

export interface HistoricalOutputColumn {
  /** Index into views. */
  readonly view: number;
  readonly feature: string;
  /** Its name in the output. */
  readonly name: string;
}

export interface HistoricalJoinInput {
  readonly entities: Table;
  readonly eventTimestampColumn: string;
  readonly views: readonly HistoricalView[];
  readonly columns: readonly HistoricalOutputColumn[];
}

export interface HistoricalProgress {
  readonly stage: 'read' | 'join' | 'write';
  /** Units of work done and in all: feature rows read, entity rows joined per view, rows written. */
  readonly done: number;
  readonly total: number;
}

export interface HistoricalJoinOptions {
  /** Feature rows per partition: a view with more is partitioned by entity hash (default 4Mi). */
  readonly partitionRows?: number;
  /** Rows per output batch (default 128Ki). */
  readonly chunkRows?: number;
  /** Where spill folders go (default: the OS temporary folder). */
  readonly tempDir?: string;
  readonly onProgress?: (progress: HistoricalProgress) => void;
}

const DEFAULT_PARTITION_ROWS = 4 * 1024 * 1024;
const DEFAULT_CHUNK_ROWS = 128 * 1024;

/** The output's schema: the entity table's columns (the event timestamp as a timestamp), then the features. */
export function historicalSchema(input: HistoricalJoinInput): Schema {
  const fields = input.entities.schema.fields.map((f) =>
    f.name === input.eventTimestampColumn && f.type.typeId !== Type.Timestamp ? new Field(f.name, new TimestampMillisecond('UTC'), false) : f,
  );
  const seen = new Map<string, string>(fields.map((f) => [f.name, 'a column of the entity table']));
  for (const c of input.columns) {
    const what = `feature '${c.feature}' of view '${input.views[c.view]!.view.name}'`;
    const other = seen.get(c.name);
    if (other) throw new RangeError(`output column '${c.name}' would hold both ${other} and ${what}: use fullFeatureNames (view__feature)`);
    seen.set(c.name, what);
    fields.push(new Field(c.name, arrowTypeOf(featureColumn(input.views[c.view]!, c.feature).type), true));
  }
  return new Schema(fields);
}

/**
 * The point-in-time join behind historical retrieval: for each row of an entity table and each
 * requested view, the view's committed row with the greatest event time <= the row's event
 * timestamp and >= that timestamp - TTL (ties: greatest created timestamp, then the earlier
 * commit), or nulls. Yields the output in the entity table's order, every row (duplicates too),
 * its columns kept, then the features in the requested order, in batches of at most chunkRows.
 *
 * Memory is bounded by design. A view whose objects hold more than partitionRows rows is split
 * by entity hash: its rows stream from the objects one row group at a time into Arrow IPC spill
 * files, one set per partition; then each partition in turn is loaded, joined with the entity
 * rows of the same hash (counting sort by entity, binary search in time), and its results are
 * spilled in entity-row order; the output is a streaming merge of those. Memory holds one
 * partition of feature rows, a few compact arrays per entity row, and one output batch. A view
 * that fits is joined in memory, no disk involved. Partitions are independent, so they can run
 * as separate activities on many workers (see README).
 *
 * @example
 *   for await (const batch of historicalJoin(offline, {
 *     entities, eventTimestampColumn: 'event_timestamp',
 *     views: [{ view: userSpend, features: ['spend_7d_avg'], objects }],
 *     columns: [{ view: 0, feature: 'spend_7d_avg', name: 'spend_7d_avg' }],
 *   })) console.log(batch.numRows);
 */
export async function* historicalJoin(offline: OfflineStore, input: HistoricalJoinInput, options: HistoricalJoinOptions = {}): AsyncGenerator<RecordBatch> {
  const schema = historicalSchema(input);
  const partitionRows = Math.max(1, options.partitionRows ?? DEFAULT_PARTITION_ROWS);
  const chunkRows = Math.max(1, options.chunkRows ?? DEFAULT_CHUNK_ROWS);
  const labels = input.entities;
  const times = entityEventTimes(labels, input.eventTimestampColumn);
  const featureRows = input.views.map((v) => v.objects.reduce((n, o) => n + o.rowCount, 0));
  const progress = new Progress(featureRows.reduce((a, b) => a + b, 0) + labels.numRows * (input.views.length + 1), options.onProgress);

  let spillDir: string | undefined;
  try {
    const results: ViewResult[] = [];
    for (const [v, request] of input.views.entries()) {
      const keys = entityKeys(labels, joinKeyColumns(request.view), `entity table (for feature view '${request.view.name}')`);
      const ttlMs = request.ttlMs ?? request.view.ttlSeconds * 1000;
      const partitions = Math.ceil(featureRows[v]! / partitionRows);
      if (partitions <= 1) {
        results.push(await joinInMemory(offline, request, keys, times, ttlMs, progress));
      } else {
        spillDir ??= await mkdtemp(join(options.tempDir ?? tmpdir(), 'granary-historical-'));
        results.push(await joinPartitioned(offline, request, keys, times, ttlMs, partitions, join(spillDir, `view${v}`), chunkRows, progress));
      }
    }

    const timeIndex = labels.schema.fields.findIndex((f) => f.name === input.eventTimestampColumn);
    const replaceTime = labels.schema.fields[timeIndex]!.type.typeId !== Type.Timestamp;
    let at = 0;
    for (const batch of labels.batches) {
      for (let s = 0; s < batch.numRows; s += chunkRows) {
        const e = Math.min(batch.numRows, s + chunkRows);
        const n = e - s;
        const children: Data[] = [...batch.slice(s, e).data.children];
        if (replaceTime) children[timeIndex] = buildColumn('timestamp', Array.from(times.subarray(at, at + n)));
        const perView = await Promise.all(results.map((r) => r.rows(at, at + n)));
        for (const c of input.columns) children.push(perView[c.view]![input.views[c.view]!.features.indexOf(c.feature)]!);
        yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }));
        at += n;
        progress.add('write', n);
      }
    }
  } finally {
    if (spillDir) await rm(spillDir, { recursive: true, force: true });
  }
}

/** One view's feature columns for the entity rows, asked for in order, start to end. */
interface ViewResult {
  /** One Data per feature of the view (in HistoricalView.features order) for entity rows [start, end). */
  rows(start: number, end: number): Promise<Data[]>;
}

async function joinInMemory(
  offline: OfflineStore,
  request: HistoricalView,
  labelKeys: readonly (EntityKeyValue | null)[],
  times: Float64Array,
  ttlMs: number,
  progress: Progress,
): Promise<ViewResult> {
  const schema = committedRowSchema(request.view, request.features);
  const batches: RecordBatch[] = [];
  for (const object of request.objects) {
    for await (const table of readCommittedRows(offline, request.view, object, request.features, schema)) {
      batches.push(...table.batches);
      progress.add('read', table.numRows);
    }
  }
  const matches = matchRows(request, new Table(schema, batches), labelKeys, null, times, ttlMs);
  progress.add('join', labelKeys.length);
  const result = gather(request, new Table(schema, batches), matches);
  const data = result.batches[0]?.data;
  return {
    async rows(start, end) {
      return data ? data.children.map((d) => d.slice(start, end - start)) : [];
    },
  };
}

async function joinPartitioned(
  offline: OfflineStore,
  request: HistoricalView,
  labelKeys: readonly (EntityKeyValue | null)[],
  times: Float64Array,
  ttlMs: number,
  partitions: number,
  dir: string,
  chunkRows: number,
  progress: Progress,
): Promise<ViewResult> {
  await mkdir(dir, { recursive: true });
  const schema = committedRowSchema(request.view, request.features);
  const keyColumns = joinKeyColumns(request.view);
  const features = new SpillFiles(dir, 'features', schema, partitions);
  for (const object of request.objects) {
    for await (const table of readCommittedRows(offline, request.view, object, request.features, schema)) {
      const keys = entityKeys(table, keyColumns, `offline object '${object.key}'`);
      const parts = new Int32Array(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        parts[i] = key === null || key === undefined ? -1 : hashEntityKey(key) % partitions;
      }
      for (const [p, rows] of groupBy(parts, partitions).entries()) {
        if (rows.length > 0) await features.append(p, takeRows(table, rows));
      }
      progress.add('read', table.numRows);
    }
  }
  await features.flush();

  // Entity rows by partition, each partition's in entity-table order; a null key matches nothing.
  const labelParts = new Int32Array(labelKeys.length);
  for (let i = 0; i < labelKeys.length; i++) {
    const key = labelKeys[i];
    labelParts[i] = key === null || key === undefined ? -1 : hashEntityKey(key) % partitions;
  }
  const labelRows = groupBy(labelParts, partitions);

  const columns = request.features.map((f) => featureColumn(request, f));
  const resultSchema = new Schema(columns.map((c) => new Field(c.name, arrowTypeOf(c.type), true)));
  const results = new SpillFiles(dir, 'results', resultSchema, partitions);
  for (let p = 0; p < partitions; p++) {
    const table = await features.readPartition(p);
    await Promise.all(features.files(p).map((f) => rm(f, { force: true })));
    const rows = labelRows[p]!;
    const matches = matchRows(request, table, labelKeys, rows, times, ttlMs);
    const result = gather(request, table, matches);
    for (let s = 0; s < result.numRows; s += chunkRows) await results.writeChunk(p, result.slice(s, Math.min(result.numRows, s + chunkRows)));
    progress.add('join', rows.length);
  }

  // The merge: each partition's results are in entity-row order, so each output range takes the
  // next rows of every partition's cursor and puts them back in place.
  const cursors = Array.from({ length: partitions }, (_, p) => ({ file: 0, table: null as Table | null, pos: 0, next: 0, p }));
  return {
    async rows(start, end) {
      const pieces: RecordBatch[] = [];
      const where = new Int32Array(end - start).fill(-1);
      let base = 0;
      for (const cursor of cursors) {
        const rows = labelRows[cursor.p]!;
        while (cursor.next < rows.length && rows[cursor.next]! < end) {
          if (!cursor.table || cursor.pos >= cursor.table.numRows) {
            cursor.table = await results.readChunk(results.files(cursor.p)[cursor.file++]!);
            cursor.pos = 0;
          }
          const take = Math.min(cursor.table.numRows - cursor.pos, countBelow(rows, cursor.next, end));
          for (let k = 0; k < take; k++) where[rows[cursor.next + k]! - start] = base + k;
          pieces.push(...cursor.table.slice(cursor.pos, cursor.pos + take).batches);
          base += take;
          cursor.pos += take;
          cursor.next += take;
        }
      }
      const merged = takeOrNull(new Table(resultSchema, pieces.map((b) => new RecordBatch(resultSchema, b.data))), where, columns, resultSchema);
      return merged.batches[0]!.data.children;
    },
  };
}

/** For the entity rows `rows` (all when null), the index of their feature row in `table`, or -1. */
function matchRows(
  request: HistoricalView,
  table: Table,
  labelKeys: readonly (EntityKeyValue | null)[],
  rows: Int32Array | null,
  times: Float64Array,
  ttlMs: number,
): Int32Array {
  const view = request.view;
  const keys = entityKeys(table, joinKeyColumns(view), `offline objects of feature view '${view.name}'`);
  const ids = new Map<EntityKeyValue, number>();
  const entity = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    entity[i] = id;
  }
  const eventTime = new Float64Array(table.numRows);
  const createdTime = new Float64Array(table.numRows);
  const eventIndex = table.schema.fields.findIndex((f) => f.name === view.source.eventTimestampColumn);
  const createdIndex = view.source.createdTimestampColumn === null ? -1 : table.schema.fields.findIndex((f) => f.name === view.source.createdTimestampColumn);
  let at = 0;
  for (const batch of table.batches) {
    eventTime.set(timestampMillis(batch.data.children[eventIndex]!, 0, batch.numRows), at);
    if (createdIndex >= 0) createdTime.set(timestampMillis(batch.data.children[createdIndex]!, 0, batch.numRows), at);
    at += batch.numRows;
  }
  const n = rows ? rows.length : labelKeys.length;
  const labelEntity = new Int32Array(n);
  const labelTime = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows ? rows[i]! : i;
    const key = labelKeys[row];
    labelEntity[i] = key === null || key === undefined ? -1 : (ids.get(key) ?? -1);
    labelTime[i] = times[row]!;
  }
  return pointInTimeMatch({ entity, eventTime, createdTime }, ids.size, { entity: labelEntity, time: labelTime }, ttlMs);
}

/** The requested features of the matched rows, nulls where unmatched. */
function gather(request: HistoricalView, table: Table, matches: Int32Array): Table {
  const columns = request.features.map((f) => featureColumn(request, f));
  const schema = new Schema(columns.map((c) => new Field(c.name, arrowTypeOf(c.type), true)));
  const selected = table.numRows === 0 ? table : table.select(request.features as string[]);
  return takeOrNull(selected, matches, columns, schema);
}

/** Row indices grouped by partition, ascending within each. */
function groupBy(parts: Int32Array, partitions: number): Int32Array[] {
  const counts = new Int32Array(partitions);
  for (let i = 0; i < parts.length; i++) if (parts[i]! >= 0) counts[parts[i]!]!++;
  const out = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(partitions);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p >= 0) out[p]![fill[p]!++] = i;
  }
  return out;
}

/** How many of rows[from..] are < end (rows ascending). */
function countBelow(rows: Int32Array, from: number, end: number): number {
  let lo = from;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]! < end) lo = mid + 1;
    else hi = mid;
  }
  return lo - from;
}

function joinKeyColumns(view: FeatureView): JoinKeyColumn[] {
  return view.entities.map((e) => ({ name: e.joinKey, type: e.valueType }));
}

function featureColumn(request: HistoricalView, feature: string): ViewColumn {
  return committedRowColumns(request.view, [feature]).at(-1)!;
}

class Progress {
  private done = 0;
  private last = 0;

  constructor(
    private readonly total: number,
    private readonly report: ((progress: HistoricalProgress) => void) | undefined,
  ) {}

  add(stage: HistoricalProgress['stage'], units: number): void {
    this.done += units;
    if (!this.report) return;
    const now = Date.now();
    if (now - this.last < 200 && this.done < this.total) return;
    this.last = now;
    this.report({ stage, done: this.done, total: this.total });
  }
}
