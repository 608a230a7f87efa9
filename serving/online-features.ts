import type { ValueType } from '../definitions/value-type.ts';
import type { FeatureValue, JoinKeyValue } from '../definitions/feature-value.ts';
import type { FeatureStatus } from './feature-status.ts';

/**
 * The online read: what `FeatureStore.getOnlineFeatures` takes and returns.
 *
 * A request names either features (`'view:feature'`, or `'view@2:feature'` to pin a view
 * version) or a feature service, and the entities as rows of join-key values. The result has,
 * for every entity row, the values in exactly the order of the request or of the feature
 * service (the order the model was trained on), each with its status and the event timestamp
 * of its view's row.
 *
 * @example
 *   const result = await store.getOnlineFeatures({
 *     featureService: 'fraud_model_v1',
 *     entityRows: [{ user_id: 'u1' }, { user_id: 'nobody' }],
 *   });
 *   result.featureNames // => ['spend_7d_avg', 'txn_count_7d']
 *   result.rows[0]      // => { entity: { user_id: 'u1' }, values: [12.5, 3n], statuses: ['PRESENT', 'PRESENT'],
 *                       //      eventTimestamps: [1735689600000, 1735689600000] }
 *   result.rows[1].statuses // => ['NOT_FOUND', 'NOT_FOUND']
 */
export interface OnlineFeaturesRequest {
  /** `'view:feature'` references; exclusive with featureService. */
  readonly features?: readonly string[];
  /** A feature service's name; exclusive with features. */
  readonly featureService?: string;
  /**
   * One object per entity, holding every join key the features need, of its declared type:
   * string for string, a safe-integer number or a bigint for int64, a number for int32.
   */
  readonly entityRows: readonly Readonly<Record<string, unknown>>[];
  /** Name features `view__feature` instead of `feature`. Default false. */
  readonly fullFeatureNames?: boolean;
}

export interface OnlineFeatureRow {
  /** The row's join-key values, as given. */
  readonly entity: Readonly<Record<string, JoinKeyValue>>;
  /**
   * Aligned with featureNames. A NOT_FOUND or OUTSIDE_MAX_AGE value is null, or the feature
   * service's default for that feature when it declares one (the status still says which).
   */
  readonly values: readonly (FeatureValue | null)[];
  readonly statuses: readonly FeatureStatus[];
  /** The event time (ms since epoch) of the view row each value comes from; null when NOT_FOUND. */
  readonly eventTimestamps: readonly (number | null)[];
}

export interface OnlineFeaturesResult {
  /** The join keys the features need, in the order of the views that need them. */
  readonly joinKeys: readonly string[];
  /** Output names, in order: `feature`, or `view__feature` with fullFeatureNames. */
  readonly featureNames: readonly string[];
  /** The same features as `view:feature` references. */
  readonly featureRefs: readonly string[];
  /** Each feature's value type. */
  readonly featureTypes: readonly ValueType[];
  readonly rows: readonly OnlineFeatureRow[];
}

/**
 * The same read, column by column, as the HTTP server answers it (and as it is computed):
 * `columns[f].values[r]` is feature f of entity row r.
 */
export interface OnlineFeatureColumns {
  readonly joinKeys: readonly string[];
  /** `entityColumns[k][r]`: join key k of entity row r, validated. */
  readonly entityColumns: readonly (readonly JoinKeyValue[])[];
  readonly featureNames: readonly string[];
  readonly featureRefs: readonly string[];
  /** Each feature's value type. */
  readonly featureTypes: readonly ValueType[];
  readonly columns: readonly OnlineFeatureColumn[];
  readonly rowCount: number;
}

/**
 * One feature's column. Columns of one view may share one `eventTimestamps` array, and one
 * `statuses` array when none of their values is a stored null: read-only, never to be modified.
 */
export interface OnlineFeatureColumn {
  readonly values: readonly (FeatureValue | null)[];
  readonly statuses: readonly FeatureStatus[];
  readonly eventTimestamps: readonly (number | null)[];
}

/** Column-oriented to row-oriented. */
export function columnsToResult(table: OnlineFeatureColumns): OnlineFeaturesResult {
  const rows: OnlineFeatureRow[] = new Array(table.rowCount);
  for (let r = 0; r < table.rowCount; r++) {
    const entity: Record<string, JoinKeyValue> = {};
    table.joinKeys.forEach((key, k) => {
      entity[key] = table.entityColumns[k]![r]!;
    });
    rows[r] = Object.freeze({
      entity: Object.freeze(entity),
      values: Object.freeze(table.columns.map((c) => c.values[r]!)),
      statuses: Object.freeze(table.columns.map((c) => c.statuses[r]!)),
      eventTimestamps: Object.freeze(table.columns.map((c) => c.eventTimestamps[r]!)),
    });
  }
  return Object.freeze({
    joinKeys: table.joinKeys,
    featureNames: table.featureNames,
    featureRefs: table.featureRefs,
    featureTypes: table.featureTypes,
    rows: Object.freeze(rows),
  });
}

/** Row-oriented back to column-oriented (for the Feast JSON of an SDK result). */
export function resultToColumns(result: OnlineFeaturesResult): OnlineFeatureColumns {
  const { rows } = result;
  return {
    joinKeys: result.joinKeys,
    entityColumns: result.joinKeys.map((key) => rows.map((row) => row.entity[key]!)),
    featureNames: result.featureNames,
    featureRefs: result.featureRefs,
    featureTypes: result.featureTypes,
    columns: result.featureNames.map((_, f) => ({
      values: rows.map((row) => row.values[f] ?? null),
      statuses: rows.map((row) => row.statuses[f]!),
      eventTimestamps: rows.map((row) => row.eventTimestamps[f] ?? null),
    })),
    rowCount: rows.length,
  };
}
