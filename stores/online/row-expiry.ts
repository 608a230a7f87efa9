/**
 * When an online row stops being kept: event time + TTL + grace, grace defaulting to
 * max(TTL, 1 hour). The monotonic write sets this as the row's PEXPIREAT and does not keep a row
 * whose moment has passed; verify counts an offline row past it as expired, not missing.
 * Serving applies the TTL itself at read time; the grace only bounds how long Redis keeps rows.
 *
 * @example
 *   rowExpiresAt(86_400, Date.parse('2025-01-01T00:00:00Z')) // => Date.parse('2025-01-03T00:00:00Z')
 */
export const MIN_EXPIRY_GRACE_SECONDS = 3600;

export function defaultExpiryGraceSeconds(ttlSeconds: number): number {
  return Math.max(ttlSeconds, MIN_EXPIRY_GRACE_SECONDS);
}

/** Ms since epoch (a whole number: PEXPIREAT takes one). */
export function rowExpiresAt(ttlSeconds: number, eventTime: number, graceSeconds = defaultExpiryGraceSeconds(ttlSeconds)): number {
  return Math.ceil(eventTime + (ttlSeconds + graceSeconds) * 1000);
}
