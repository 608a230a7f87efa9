/**
 * Lets timers (an activity's heartbeat among them) and I/O callbacks run between chunks of
 * synchronous work.
 *
 * @example
 *   for (const [i, row] of rows.entries()) { check(row); if (i % 10_000 === 0) await yieldToEventLoop(); }
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
