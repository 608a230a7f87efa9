import type { RecordedResult } from '../stores/registry/monitor-results.ts';

/**
 * Notifications on state changes: every result whose state differs from the one before it (a
 * first result counts as a change unless it is ok) is POSTed, as one JSON body per run, to each
 * webhook URL. A URL that does not answer 2xx within the timeout fails the call (the activity
 * retries: notifications are at least once).
 *
 * @example
 *   await notifyStateChanges(['http://alerts.example/granary'], 'fraud', recorded)
 *   // POST {"project":"fraud","changes":[{"view":"user_spend","metric":"psi","feature":"spend","from":"ok","to":"alert",...}]}
 */
export interface StateChange {
  readonly view: string;
  readonly version: number;
  readonly metric: string;
  readonly feature: string;
  readonly from: string | null;
  readonly to: string;
  readonly value: number;
  readonly objective: number;
  readonly measuredAt: string;
}

export function stateChanges(recorded: readonly RecordedResult[]): StateChange[] {
  return recorded
    .filter((r) => (r.previousState === null ? r.state !== 'ok' : r.previousState !== r.state))
    .map((r) => ({
      view: r.view,
      version: r.version,
      metric: r.metric,
      feature: r.feature,
      from: r.previousState,
      to: r.state,
      value: r.value,
      objective: r.objective,
      measuredAt: r.measuredAt.toISOString(),
    }));
}

export async function notifyStateChanges(urls: readonly string[], project: string, changes: readonly StateChange[], timeoutMs = 5000): Promise<void> {
  if (changes.length === 0 || urls.length === 0) return;
  const body = JSON.stringify({ project, changes });
  await Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`monitoring webhook ${url} answered ${response.status}`);
    }),
  );
}
