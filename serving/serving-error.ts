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
  /** No token, or a bad, expired or revoked one (serving/serving-access.ts). */
  UNAUTHORIZED: 401,
  /** The consumer may not read some of the requested features; nothing is read. */
  FORBIDDEN: 403,
  UNKNOWN_FEATURE_SERVICE: 404,
  UNKNOWN_FEATURE_VIEW: 404,
  UNKNOWN_FEATURE: 404,
  NOT_FOUND: 404,
  BODY_TOO_LARGE: 413,
  TOO_MANY_ENTITIES: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** A client address over its budget of failed authentications (serving/serving-access.ts); valid tokens are still served. */
  TOO_MANY_AUTH_FAILURES: 429,
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

/** Longest piece of a request an error message quotes whole. */
export const MAX_QUOTED_CHARS = 100;
/** Longest error message the server sends (a backstop: what messages quote is bounded already). */
export const MAX_MESSAGE_CHARS = 2000;

/**
 * A piece of the request, quoted for an error message: whole when short, else its first
 * MAX_QUOTED_CHARS characters, an ellipsis and its length, so an error never echoes unbounded
 * input back.
 *
 * @example
 *   quoted('user_spend:spend_7d') // => "'user_spend:spend_7d'"
 *   quoted('x'.repeat(500_000))   // => "'xxxx…' (500000 characters)", the first 100 characters quoted
 */
export function quoted(text: string): string {
  if (text.length <= MAX_QUOTED_CHARS) return `'${text}'`;
  return `'${text.slice(0, MAX_QUOTED_CHARS)}…' (${text.length} characters)`;
}

/** The same bound without the quotes (for a URL path, say). */
export function clipped(text: string): string {
  if (text.length <= MAX_QUOTED_CHARS) return text;
  return `${text.slice(0, MAX_QUOTED_CHARS)}… (${text.length} characters)`;
}

/** A list of names from the request, each quoted, at most `max` of them. */
export function quotedList(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).map(quoted).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** The message cut to MAX_MESSAGE_CHARS, saying so. */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  return `${message.slice(0, MAX_MESSAGE_CHARS)}… (message cut at ${MAX_MESSAGE_CHARS} of ${message.length} characters)`;
}
