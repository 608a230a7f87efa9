import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/**
 * The failure type (workflows/contracts.ts `failureTypes`) of an activity's non-retryable
 * failure, as seen in workflow code; undefined for anything else.
 *
 * @example
 *   try { await applyCommit(...) } catch (e) { if (failureType(e) === failureTypes.redisDataLost) ... }
 */
export function failureType(error: unknown): string | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/**
 * The message that says what went wrong: an activity's failure message (not "Activity task
 * failed"), else the error's own.
 */
export function failureMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
