import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, makeData, RecordBatch, Schema, Struct, Table, TimeUnit, Type, type Data, type Timestamp } from 'apache-arrow';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { readRowGroups } from '../stores/offline/read-row-groups.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { historicalJoin, type HistoricalOutput } from './historical-join.ts';
import { planHistoricalRetrieval, type HistoricalFeaturesOptions } from './plan-historical-retrieval.ts';

/**
 * Historical retrieval into a Parquet file: a point-in-time-correct training set from the
 * committed offline objects, joined by DuckDB (see historicalJoin).
 *
 * With `entities` or `entitiesFile` (join-key columns, an event-timestamp column and any others,
 * such as labels, which are kept): for each row and each view, the values of the view's row with
 * the greatest event time <= the row's timestamp and >= timestamp - TTL; ties on event time go to
 * the greatest created timestamp; no such row gives nulls. Every input row comes out, duplicates
 * too, in the input's order, then the features in the requested order (a feature service's
 * order, or the `features` list's), named `feature` or, with fullFeatureNames, `view__feature`.
 * Features keep their declared types; timestamps are UTC microseconds.
 *
 * Without an entity table: a snapshot for batch scoring, one row per entity that has a row with
 * event time in [start, end] (start defaults to end - TTL), with its latest values as of `end`.
 * The views must share their join keys.
 *
 * @example
 *   await writeHistoricalFeatures(registry, offline, { entitiesFile: 'labels.parquet', featureService: 'fraud_model_v1' }, 'train.parquet')
 *   // => { rows: 1000000, bytes: 21337120, columns: ['user_id', 'event_timestamp', 'is_fraud', 'spend_7d_avg', 'txn_count_7d'] }
 */
export async function writeHistoricalFeatures(registry: Registry, offline: OfflineStore, options: HistoricalFeaturesOptions, out: string): Promise<HistoricalOutput> {
  return historicalJoin(registry, offline, await planHistoricalRetrieval(registry, options), out, options);
}

/**
 * The training set as one Arrow table (see writeHistoricalFeatures), timestamps as UTC
 * milliseconds like every other table Granary hands out.
 *
 * @example
 *   const training = await getHistoricalFeatures(registry, offline, {
 *     entities: labels,                       // user_id, event_timestamp, is_fraud
 *     featureService: 'fraud_model_v1',       // or features: ['user_spend_features:spend_7d_avg']
 *   });
 *   training.schema.fields.map((f) => f.name) // => ['user_id', 'event_timestamp', 'is_fraud', 'spend_7d_avg', 'txn_count_7d']
 */
export async function getHistoricalFeatures(registry: Registry, offline: OfflineStore, options: HistoricalFeaturesOptions): Promise<Table> {
  const out = join(options.tempDir ?? tmpdir(), `granary-training-${randomBytes(6).toString('hex')}.parquet`);
  try {
    await writeHistoricalFeatures(registry, offline, options, out);
    return await readTrainingSet(out);
  } finally {
    await rm(out, { force: true });
  }
}

/**
 * A training set's Parquet file as one Arrow table, timestamps as UTC milliseconds like every
 * other table Granary hands out (the file holds microseconds).
 *
 * @example
 *   (await readTrainingSet('train.parquet')).numRows // => 1000000
 */
export async function readTrainingSet(path: string): Promise<Table> {
  const batches: RecordBatch[] = [];
  for await (const { table } of readRowGroups(await openAsBlob(path), {}, path)) batches.push(...table.batches.map(inMilliseconds));
  if (batches.length > 0) return new Table(batches);
  const { tableFromIPC } = await import('apache-arrow');
  const { readSchema } = await import('parquet-wasm');
  const { readFile } = await import('node:fs/promises');
  const empty = tableFromIPC(readSchema(await readFile(path)).intoIPCStream());
  return new Table(inMillisecondsSchema(empty.schema));
}

/** A batch with its microsecond timestamp columns as milliseconds. */
function inMilliseconds(batch: RecordBatch): RecordBatch {
  const schema = inMillisecondsSchema(batch.schema);
  const children = batch.data.children.map((data, i) => (isMicros(data.type) ? toMillis(data as Data<Timestamp>, schema.fields[i]!.type as Timestamp) : data));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: batch.numRows, nullCount: 0, children }));
}

function inMillisecondsSchema(schema: Schema): Schema {
  return new Schema(
    schema.fields.map((f) => (isMicros(f.type) ? new Field(f.name, new (f.type.constructor as typeof Timestamp)(TimeUnit.MILLISECOND, (f.type as Timestamp).timezone), f.nullable) : f)),
    schema.metadata,
  );
}

function isMicros(type: { typeId: Type }): boolean {
  return type.typeId === Type.Timestamp && (type as Timestamp).unit === TimeUnit.MICROSECOND;
}

function toMillis(data: Data<Timestamp>, type: Timestamp): Data<Timestamp> {
  const values = data.values as unknown as BigInt64Array;
  const out = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = values[i]!;
    out[i] = v >= 0n ? v / 1000n : -((-v + 999n) / 1000n);
  }
  return makeData({ type, offset: 0, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap, data: out as never });
}
