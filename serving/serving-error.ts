/**
 * A request the read path refuses or cannot serve, with the HTTP status it maps to and a stable
 * code. Bad input is a 4xx naming what is wrong (the feature, the join key, the entity row); an
 * unavailable store is a 503. The HTTP server answers `{ "code": ..., "message": ... }`.
 *
 * @example
 *   throw new ServingError('INVALID_ENTITY_KEY', "entity row 2: join key 'driver_id' is int64, got string \"1001\"");
 */
export const SERVING_ERROR_CODES = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  MISSING_JOIN_KEY: 400,
  INVALID_ENTITY_KEY: 400,
  AMBIGUOUS_FEATURE_NAME: 400,
  NOT_ONLINE: 400,
  UNKNOWN_FEATURE_SERVICE: 404,
  UNKNOWN_FEATURE_VIEW: 404,
  UNKNOWN_FEATURE: 404,
  NOT_FOUND: 404,
  BODY_TOO_LARGE: 413,
  TOO_MANY_ENTITIES: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** A registered feature service the read path cannot serve as registered (e.g. a default of the wrong type). */
  INVALID_FEATURE_SERVICE: 500,
  ONLINE_STORE_UNAVAILABLE: 503,
  REGISTRY_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
} as const;

export type ServingErrorCode = keyof typeof SERVING_ERROR_CODES;

export class ServingError extends Error {
  readonly statusCode: number;
  readonly code: ServingErrorCode;

  constructor(code: ServingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServingError';
    this.code = code;
    this.statusCode = SERVING_ERROR_CODES[code];
  }
}
