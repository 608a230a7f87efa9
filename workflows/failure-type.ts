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
