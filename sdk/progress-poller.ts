import type { Client, WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';

export interface ProgressPollerOptions {
  /** Between the end of one query and the next (default 500 ms). */
  readonly intervalMs?: number;
  /** How long one query may wait for an answer (default 5 s): a run whose worker died answers none until another worker takes it. */
  readonly queryTimeoutMs?: number;
}

/**
 * Waits for `until` while reporting a workflow's progress query to `onProgress`: one query at a
 * time, each bounded by a deadline, and none still in flight when it returns, so the caller may
 * close the Temporal connection right after.
 *
 * Why not a `setInterval` of queries: while no worker runs the workflow (one was SIGKILLed and
 * the next has not taken over), queries pile up unanswered, and the client retries them with
 * backoff; one still pending when the connection closes is retried on the closed channel, which
 * throws `Channel has been shut down` from a timer and kills the process with exit code 1 after a
 * run that succeeded.
 *
 * @example
 *   const result = await whilePolling(client, handle, rebuildProgressQuery, (p) => console.log(p.state), handle.result());
 */
export async function whilePolling<T, P>(
  client: Client,
  handle: Pick<WorkflowHandle, 'query'>,
  query: QueryDefinition<P>,
  onProgress: ((progress: P) => void) | undefined,
  until: Promise<T>,
  options: ProgressPollerOptions = {},
): Promise<T> {
  if (!onProgress) return until;
  const intervalMs = options.intervalMs ?? 500;
  const queryTimeoutMs = options.queryTimeoutMs ?? 5000;
  const stop = new AbortController();
  // One controller per query: the client adds an abort listener per call and never removes it.
  let inFlight: AbortController | undefined;
  let done = false;
  const poller = (async () => {
    while (!done) {
      await pause(intervalMs, stop.signal);
      if (done) break;
      inFlight = new AbortController();
      const signal = inFlight.signal;
      try {
        const progress = await client.withAbortSignal(signal, () => client.withDeadline(Date.now() + queryTimeoutMs, () => handle.query(query)));
        if (!done) onProgress(progress);
      } catch {
        // No answer this time (no worker yet, the run is between tasks or ended): ask again later.
      } finally {
        inFlight = undefined;
      }
    }
  })();
  try {
    return await until;
  } finally {
    done = true;
    stop.abort();
    inFlight?.abort();
    // A query between two of the client's retries ignores the abort; its deadline ends it.
    await poller;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
