import { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating every second with the latest `details()`, so a dead worker is
 * noticed within the heartbeat timeout and the next attempt resumes from the last details.
 */
export async function withHeartbeat<T>(work: () => Promise<T>, details: () => unknown = () => undefined): Promise<T> {
  const context = Context.current();
  context.heartbeat(details());
  const timer = setInterval(() => context.heartbeat(details()), 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    context.heartbeat(details());
  }
}

/** The details of the previous attempt's last heartbeat, if any. */
export function lastHeartbeat<T>(): T | undefined {
  return Context.current().info.heartbeatDetails as T | undefined;
}
