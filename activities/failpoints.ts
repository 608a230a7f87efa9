/**
 * Failpoints: named places in the write path where fault tests kill the worker process for
 * real (SIGKILL, no cleanup), to prove that a crash there loses or corrupts nothing.
 * Armed only by the environment variable GRANARY_FAILPOINTS (a comma-separated list of names),
 * which production never sets.
 */
export const FAILPOINTS = [
  /** After the batch's objects are written, before the commit row. */
  'after-offline-write',
  /** After the commit row, before any online write. */
  'after-commit',
  /** In the middle of applying a commit to Redis (after its first chunk). */
  'mid-online-apply',
  /** After a commit is online, before the watermark moves. */
  'before-watermark',
  /** In a rebuild, after the first online write of a partition other than the first. */
  'mid-rebuild',
  /** In a rebuild's verify, after the first chunk of a partition other than the first is compared and heartbeated. */
  'mid-verify',
  /** In a compaction, a partition other than the first: its snapshot runs written, before the activity completes. */
  'mid-compaction',
  /** In a migration's backfill, after its first old-version commit is rewritten and committed. */
  'mid-backfill',
  /** In a distributed training set, a partition other than the first: its rows downloaded, before its join. */
  'mid-historical-partition',
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];

export function failpoint(name: Failpoint): void {
  const armed = process.env.GRANARY_FAILPOINTS;
  if (!armed || !armed.split(',').includes(name)) return;
  process.stderr.write(`granary: failpoint '${name}' reached: killing worker ${process.pid}\n`);
  process.kill(process.pid, 'SIGKILL');
}

/**
 * Like `failpoint`, for the places where a test must see the kill resume from a heartbeat: first
 * waits until the SDK has sent the latest details (it throttles heartbeats to 80% of the
 * heartbeat timeout), so the next attempt finds them.
 */
export async function failpointAfterHeartbeat(name: Failpoint, heartbeatTimeoutMs = 10_000): Promise<void> {
  const armed = process.env.GRANARY_FAILPOINTS;
  if (!armed || !armed.split(',').includes(name)) return;
  await new Promise((resolve) => setTimeout(resolve, heartbeatTimeoutMs * 0.8 + 1500));
  failpoint(name);
}
