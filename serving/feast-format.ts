import type { OnlineFeatureColumns } from './online-features.ts';
import type { JoinKeyValue } from '../definitions/feature-value.ts';
import { formatTimestamp, jsonValueOf, type JsonValue } from './json-value.ts';
import type { PlanRequest } from './serving-catalog.ts';
import { ServingError } from './serving-error.ts';

/**
 * Feast's feature-server wire format, so a client written for Feast works unchanged.
 *
 * Request: `{"features": ["view:feature", ...]}` or `{"feature_service": "name"}`, with
 * `"entities": {"join_key": [v1, v2, ...]}` and optional `"full_feature_names": true`.
 * Response, column by column, the join keys first:
 *
 *   {"metadata": {"feature_names": ["driver_id", "conv_rate", ...]},
 *    "results": [{"values": [1001, 1002], "statuses": ["PRESENT", "PRESENT"],
 *                 "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]},
 *                {"values": [0.5, null], "statuses": ["PRESENT", "NOT_FOUND"],
 *                 "event_timestamps": ["2025-01-01T10:00:00Z", "1970-01-01T00:00:00Z"]}, ...]}
 *
 * A missing row's event timestamp is the epoch, as in Feast.
 *
 * int64 join keys and values are JSON numbers, as Feast writes them, up to 2^53 - 1; beyond, a
 * JSON number is not exact for most clients (JavaScript's JSON.parse turns 9007199254740993 into
 * 9007199254740992), so those are decimal strings ("9007199254740993"), exact everywhere. In a
 * request, an int64 key may be a number up to 2^53 - 1 or a decimal string of any int64
 * (entity-columns.ts), so a key read back can be sent again as it came.
 *
 * @example
 *   const { plan, entities } = parseFeastRequest(JSON.parse(body));
 *   JSON.stringify(feastResponse(await reader.read(await reader.plan(plan), entityColumnsFromColumns(entities, ...))));
 */
export interface FeastRequest {
  readonly plan: PlanRequest;
  /** The `entities` field, unchecked (entity-columns.ts checks it against the plan). */
  readonly entities: unknown;
}

export interface FeastResponse {
  readonly metadata: { readonly feature_names: readonly string[] };
  readonly results: readonly { readonly values: JsonValue[]; readonly statuses: string[]; readonly event_timestamps: string[] }[];
}

const EPOCH = '1970-01-01T00:00:00Z';

export function parseFeastRequest(body: unknown): FeastRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ServingError('INVALID_REQUEST', 'the body must be a JSON object: {"features": [...] | "feature_service": "...", "entities": {...}}');
  }
  const { features, feature_service: featureService, entities, full_feature_names: fullFeatureNames } = body as Record<string, unknown>;
  if ((features === undefined || features === null) === (featureService === undefined || featureService === null)) {
    throw new ServingError('INVALID_REQUEST', "give either 'features' (a list of 'view:feature') or 'feature_service' (a name), not both or neither");
  }
  if (features != null && (!Array.isArray(features) || features.some((f) => typeof f !== 'string'))) {
    throw new ServingError('INVALID_REQUEST', "'features' must be a list of 'view:feature' strings");
  }
  if (featureService != null && (typeof featureService !== 'string' || featureService === '')) {
    throw new ServingError('INVALID_REQUEST', "'feature_service' must be a feature service's name");
  }
  if (fullFeatureNames != null && typeof fullFeatureNames !== 'boolean') {
    throw new ServingError('INVALID_REQUEST', "'full_feature_names' must be true or false");
  }
  if (entities === undefined) throw new ServingError('INVALID_REQUEST', "'entities' is missing: give {\"join_key\": [values...]}");
  return {
    plan: {
      features: features == null ? undefined : (features as string[]),
      featureService: featureService == null ? undefined : (featureService as string),
      fullFeatureNames: fullFeatureNames === true,
    },
    entities,
  };
}

export function feastResponse(table: OnlineFeatureColumns): FeastResponse {
  const epochs = (): string[] => new Array<string>(table.rowCount).fill(EPOCH);
  const results: FeastResponse['results'][number][] = [];
  table.joinKeys.forEach((_, k) => {
    results.push({
      values: table.entityColumns[k]!.map(joinValueToJson),
      statuses: new Array<string>(table.rowCount).fill('PRESENT'),
      event_timestamps: epochs(),
    });
  });
  table.columns.forEach((column, f) => {
    const type = table.featureTypes[f]!;
    const values = new Array<JsonValue>(table.rowCount);
    const eventTimestamps = new Array<string>(table.rowCount);
    for (let r = 0; r < table.rowCount; r++) {
      values[r] = jsonValueOf(column.values[r] ?? null, type);
      const ts = column.eventTimestamps[r];
      eventTimestamps[r] = ts === null || ts === undefined ? EPOCH : formatTimestamp(ts);
    }
    results.push({ values, statuses: column.statuses, event_timestamps: eventTimestamps });
  });
  return { metadata: { feature_names: [...table.joinKeys, ...table.featureNames] }, results };
}

/** A join key as JSON: an int64 beyond 2^53 - 1 (either sign) as its decimal string. */
function joinValueToJson(value: JoinKeyValue): JsonValue {
  if (typeof value !== 'bigint') return value;
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value.toString();
}
