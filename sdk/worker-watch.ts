import { setMaxListeners } from 'node:events';
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';

/**
 * Waiting on a workflow that no worker will ever run is the silent failure this module rules
 * out: while `work` runs, the task queue's pollers are checked (Temporal's DescribeTaskQueue);
 * after `warnAfterMs` (5 s) with none, `notify` says that no worker polls the queue and how to
 * start one; after `timeoutSeconds` with none, the wait stops with a NoWorkerError and the work's
 * gRPC calls are cancelled, so the process can exit at once (the workflow itself stays started
 * and runs once a worker polls). Every SDK call that waits on a workflow
 * goes through here (FeatureStore.waitOnWorkflows).
 *
 * @example
 *   await awaitWithWorkerWatch(client, () => handle.result(), { namespace: 'default', taskQueue: 'granary', timeoutSeconds: 180, notify: console.error });
 *   // after 5 s without a worker, stderr:
 *   //   granary: no worker polls task queue 'granary' (namespace 'default'); start one with: granary worker --repo <dir> ...
 */
export interface WorkerWatchOptions {
  readonly namespace: string;
  readonly taskQueue: string;
  /** The wait stops this long after the first check found no worker (counted from the start of the wait). */
  readonly timeoutSeconds: number;
  /** Told once when no worker polls, and once when one appears after that. */
  readonly notify: (message: string) => void;
  /** The first check, default 5000 ms (at most half the timeout); then every `checkEveryMs` (default 2000 ms). */
  readonly warnAfterMs?: number;
  readonly checkEveryMs?: number;
}

/** No worker polled the task queue for the whole worker timeout. */
export class NoWorkerError extends Error {
  constructor(
    readonly taskQueue: string,
    readonly timeoutSeconds: number,
    namespace: string,
  ) {
    super(
      `no worker polled task queue '${taskQueue}' (namespace '${namespace}') for ${timeoutSeconds} s, so nothing ran: ` +
        `start one with 'granary worker --repo <dir>' (same configuration, GRANARY_TASK_QUEUE included), then run the command again ` +
        `(it attaches to the workflow it started); wait longer with --worker-timeout <seconds> or GRANARY_WORKER_TIMEOUT`,
    );
    this.name = 'NoWorkerError';
  }
}

/** The protocol's enum values (temporal.api.enums.v1), without a dependency on @temporalio/proto. */
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/** A poller whose last poll is older than this has gone (a live worker re-polls at least every ~60 s). */
const LIVE_POLLER_MS = 75_000;

/** One DescribeTaskQueue call may take this long (the wait's end awaits the call in flight). */
const CHECK_DEADLINE_MS = 3000;

export async function awaitWithWorkerWatch<T>(client: Client, work: () => Promise<T>, options: WorkerWatchOptions): Promise<T> {
  const start = Date.now();
  const timeoutMs = options.timeoutSeconds * 1000;
  const checkEveryMs = options.checkEveryMs ?? 2000;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  let warned = false;
  let noWorkerSince: number | undefined;
  // The check in flight, awaited before the wait returns: a gRPC retry of a call still pending
  // when the caller closes its connection would throw 'Channel has been shut down' from a timer.
  let inFlight: Promise<unknown> = Promise.resolve();

  const watcher = new Promise<never>((_resolve, reject) => {
    const check = async (): Promise<void> => {
      const asked = client
        .withDeadline(Date.now() + CHECK_DEADLINE_MS, () => hasLivePoller(client, options.namespace, options.taskQueue))
        .catch(() => undefined);
      inFlight = asked;
      const polled = await asked;
      if (finished) return;
      const now = Date.now();
      if (polled === false) {
        // The first check that finds none counts from the start of the wait.
        noWorkerSince ??= start;
        if (now - noWorkerSince >= timeoutMs) return reject(new NoWorkerError(options.taskQueue, options.timeoutSeconds, options.namespace));
        if (!warned) {
          warned = true;
          const left = Math.ceil((timeoutMs - (now - noWorkerSince)) / 1000);
          options.notify(
            `granary: no worker polls task queue '${options.taskQueue}' (namespace '${options.namespace}'); ` +
              `start one with: granary worker --repo <dir> (same configuration). Waiting ${left} s more ` +
              `(--worker-timeout <seconds> or GRANARY_WORKER_TIMEOUT to change it).`,
          );
        }
      } else if (polled === true) {
        noWorkerSince = undefined;
        if (warned) options.notify(`granary: a worker now polls task queue '${options.taskQueue}'; waiting for it.`);
        warned = false;
      }
      const untilTimeout = noWorkerSince === undefined ? checkEveryMs : timeoutMs - (now - noWorkerSince);
      timer = setTimeout(() => void check(), Math.max(0, Math.min(checkEveryMs, untilTimeout)));
    };
    timer = setTimeout(() => void check(), Math.min(options.warnAfterMs ?? 5000, timeoutMs / 2));
  });

  // The work's calls (a long poll for the result, progress queries) are cancelled when the wait
  // gives up; the watcher's own calls are made outside this signal.
  const abort = new AbortController();
  // The client adds an abort listener per call it makes under the signal and never removes it:
  // a long wait re-issues its long poll every 20-30 s (a 5-minute rebuild made Node warn of a leak
  // at 11). They are few and end with the wait.
  setMaxListeners(0, abort.signal);
  try {
    return await Promise.race([client.withAbortSignal(abort.signal, work), watcher]);
  } catch (error) {
    if (error instanceof NoWorkerError) abort.abort(error);
    throw error;
  } finally {
    finished = true;
    clearTimeout(timer);
    await inFlight;
  }
}

/** Whether a worker polled the queue's workflow tasks lately (undefined when Temporal did not answer). */
async function hasLivePoller(client: Client, namespace: string, taskQueue: string): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
  });
  const now = Date.now();
  return (response.pollers ?? []).some((p) => {
    const last = optionalTsToMs(p.lastAccessTime);
    return last === undefined || now - last < LIVE_POLLER_MS;
  });
}
