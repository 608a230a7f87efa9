/**
 * The rule for rows already committed with a time from the future. Ingestion refuses event and
 * created times later than now + the skew (setting `ingest.maxFutureSkew`, default one hour;
 * batch-validation.ts), but rows committed before that check existed, or written around it, may
 * hold one: a year typo such as 9999-12-31 would then win every later monotonic write and poison
 * its entity for good. So a committed row whose event or created time is later than its commit's
 * time + the skew is invalid everywhere: materialization, rebuild, verify and repair skip it (and
 * count it as refused). A row that passed ingestion always satisfies the rule, because the commit
 * comes after the validation.
 *
 * @example
 *   const limit = futureLimit(commit.committedAt, 3_600_000);
 *   isFutureRow(Date.UTC(9999, 11, 31), 0, limit) // => true
 */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 3_600_000;

/** The latest valid event or created time of a commit's rows, ms since epoch. */
export function futureLimit(committedAt: Date, skewMs: number = DEFAULT_MAX_FUTURE_SKEW_MS): number {
  return committedAt.getTime() + skewMs;
}

/** Whether a committed row's times are past its commit's limit (see futureLimit): such a row is refused. */
export function isFutureRow(eventTime: number, createdTime: number, limit: number): boolean {
  return eventTime > limit || createdTime > limit;
}
