import { Table, type RecordBatch, type Schema } from 'apache-arrow';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { historicalJoin } from './historical-join.ts';
import { planHistoricalRetrieval, type HistoricalFeaturesOptions } from './plan-historical-retrieval.ts';

/** The output batches in order (for streaming to a file). */
export async function historicalFeatureBatches(
  registry: Registry,
  offline: OfflineStore,
  options: HistoricalFeaturesOptions,
): Promise<{ schema: Schema; batches: AsyncIterable<RecordBatch> }> {
  const { input, schema } = await planHistoricalRetrieval(registry, offline, options);
  return { schema, batches: historicalJoin(offline, input, options) };
}

/**
 * Historical retrieval: point-in-time-correct training sets from the committed offline objects.
 *
 * With `entities` (a table of join-key columns, an event-timestamp column and any others, such as
 * labels, which are kept): for each row and each view, the values of the view's row with the
 * greatest event time <= the row's timestamp and >= timestamp - TTL; ties on event time go to the
 * greatest created timestamp; no such row gives nulls. Every input row comes out, duplicates too,
 * in the input's order, then the features in the requested order (a feature service's order, or
 * the `features` list's), named `feature` or, with fullFeatureNames, `view__feature`.
 *
 * Without `entities`: a snapshot for batch scoring, one row per entity that has a row with event
 * time in [start, end] (start defaults to end - TTL), with its latest values as of `end`. The
 * views must share their join keys.
 *
 * @example
 *   const training = await getHistoricalFeatures(registry, offline, {
 *     entities: labels,                       // user_id, event_timestamp, is_fraud
 *     featureService: 'fraud_model_v1',       // or features: ['user_spend_features:spend_7d_avg']
 *   });
 *   training.schema.fields.map((f) => f.name) // => ['user_id', 'event_timestamp', 'is_fraud', 'spend_7d_avg', 'txn_count_7d']
 *
 * The whole training set as one Arrow table.
 */
export async function getHistoricalFeatures(registry: Registry, offline: OfflineStore, options: HistoricalFeaturesOptions): Promise<Table> {
  const { schema, batches } = await historicalFeatureBatches(registry, offline, options);
  const all: RecordBatch[] = [];
  for await (const batch of batches) all.push(batch);
  return new Table(schema, all);
}
