import type { OnlineFeatureColumns } from './online-features.ts';
import type { FeatureValue, JoinKeyValue } from '../definitions/feature-value.ts';
import { parseValueType, type ValueType } from '../definitions/value-type.ts';
import { formatTimestamp, jsonValueOf, shortestFloat32, type JsonValue } from './json-value.ts';
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
 *   feastResponseJson(await reader.read(await reader.plan(plan), entityColumnsFromColumns(entities, ...)));
 *   // the same text as JSON.stringify(feastResponse(...)), written without the intermediate objects
 */
export interface FeastRequest {
  readonly plan: PlanRequest;
  /** The `entities` field, unchecked (entity-columns.ts checks it against the plan). */
  readonly entities: unknown;
}

export interface FeastResponse {
  readonly metadata: { readonly feature_names: readonly string[] };
  readonly results: readonly { readonly values: JsonValue[]; readonly statuses: readonly string[]; readonly event_timestamps: string[] }[];
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

/**
 * The Feast response as JSON text: exactly `JSON.stringify(feastResponse(table))`, written
 * without building the response's objects (the HTTP server's hot path; 100 entities x 50
 * features are 5,000 values, 5,000 statuses and 5,000 timestamps). What makes it cheap:
 *
 * - an array shared by several columns is written once: the reader gives every column of one
 *   view the same `eventTimestamps` array, and the same `statuses` array when no value of the
 *   column is a stored null (online-feature-reader.ts), so 10 features of a view cost one
 *   timestamp column, not 10;
 * - a timestamp is formatted once per run of equal values (a row's features share one);
 * - a column whose values are already JSON (finite numbers, strings, booleans, nulls) is handed
 *   to `JSON.stringify` as it is; only int64, float32, timestamps, bytes, lists and non-finite
 *   numbers are converted value by value, the value type parsed once per column.
 *
 * @example
 *   feastResponseJson(table) === JSON.stringify(feastResponse(table)) // => true
 */
export function feastResponseJson(table: OnlineFeatureColumns): string {
  const n = table.rowCount;
  const written = new Map<readonly unknown[], string>();
  const once = <T>(array: readonly T[], write: (array: readonly T[]) => string): string => {
    let json = written.get(array);
    if (json === undefined) {
      json = write(array);
      written.set(array, json);
    }
    return json;
  };
  let out = `{"metadata":{"feature_names":${JSON.stringify([...table.joinKeys, ...table.featureNames])}},"results":[`;
  let first = true;
  if (table.joinKeys.length > 0) {
    const present = JSON.stringify(new Array<string>(n).fill('PRESENT'));
    const epochs = JSON.stringify(new Array<string>(n).fill(EPOCH));
    for (let k = 0; k < table.joinKeys.length; k++) {
      out += `${first ? '' : ','}{"values":${JSON.stringify(table.entityColumns[k]!.map(joinValueToJson))},"statuses":${present},"event_timestamps":${epochs}}`;
      first = false;
    }
  }
  for (let f = 0; f < table.columns.length; f++) {
    const column = table.columns[f]!;
    const values = valuesJson(column.values, table.featureTypes[f]!, n);
    const statuses = once(column.statuses, statusesJson);
    const timestamps = once(column.eventTimestamps, timestampsJson);
    out += `${first ? '' : ','}{"values":${values},"statuses":${statuses},"event_timestamps":${timestamps}}`;
    first = false;
  }
  return `${out}]}`;
}

function statusesJson(statuses: readonly string[]): string {
  return JSON.stringify(statuses);
}

/** Event times as RFC 3339 strings (the epoch for a missing row), each distinct run formatted once. */
function timestampsJson(times: readonly (number | null | undefined)[]): string {
  const texts = new Array<string>(times.length);
  let last: number | null | undefined = Number.NaN;
  let lastText = EPOCH;
  for (let r = 0; r < times.length; r++) {
    const ts = times[r];
    if (ts !== last) {
      last = ts;
      lastText = ts === null || ts === undefined ? EPOCH : formatTimestamp(ts);
    }
    texts[r] = lastText;
  }
  return JSON.stringify(texts);
}

/** A column's values as JSON, as jsonValueOf writes each. */
function valuesJson(values: readonly (FeatureValue | null | undefined)[], type: ValueType, n: number): string {
  const parsed = parseValueType(type);
  const scalar = parsed?.scalar;
  if (parsed && !parsed.list && values.length === n && isJsonAlready(values, scalar!)) return JSON.stringify(values);
  const json = new Array<JsonValue>(n);
  if (scalar === 'float32' && parsed && !parsed.list) {
    for (let r = 0; r < n; r++) {
      const v = values[r];
      json[r] = typeof v === 'number' && Number.isFinite(v) ? shortestFloat32(v) : jsonValueOf(v ?? null, type);
    }
  } else if (scalar === 'int64' && parsed && !parsed.list) {
    for (let r = 0; r < n; r++) {
      const v = values[r];
      json[r] = typeof v === 'bigint' && v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : jsonValueOf(v ?? null, type);
    }
  } else {
    for (let r = 0; r < n; r++) json[r] = jsonValueOf(values[r] ?? null, type);
  }
  return JSON.stringify(json);
}

/** Whether JSON.stringify writes these values as jsonValueOf would: finite numbers, strings, booleans, nulls of a plain scalar type. */
function isJsonAlready(values: readonly unknown[], scalar: string): boolean {
  const kind = scalar === 'float64' || scalar === 'int32' ? 'number' : scalar === 'string' ? 'string' : scalar === 'bool' ? 'boolean' : undefined;
  if (kind === undefined) return false;
  for (let r = 0; r < values.length; r++) {
    const v = values[r];
    if (v === null) continue;
    if (typeof v !== kind) return false;
    if (kind === 'number' && !Number.isFinite(v)) return false;
  }
  return true;
}
