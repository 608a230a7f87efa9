import type { FeatureView } from '../definitions/feature-view.ts';
import type { LatencyCount, StatusCount } from '../stores/online/redis-serving-counters.ts';
import type { MonitorResult } from '../stores/registry/monitor-results.ts';
import { stateOf } from './monitor-state.ts';
import type { ViewObjectives } from './objectives.ts';

/** Minutes of serving counters a run reads: the current one and the four before. */
export const SERVING_WINDOW_MINUTES = 5;

/** The minutes [from, to] a run at `now` reads. */
export function servingWindow(now: number, minutes = SERVING_WINDOW_MINUTES): { from: number; to: number } {
  const to = Math.floor(now / 60_000);
  return { from: to - minutes + 1, to };
}

/**
 * Completeness of each feature of a view among served lookups, from the shared serving counters
 * (every replica's counts summed, stores/online/redis-serving-counters.ts): the share of values
 * served PRESENT among all served (NULL_VALUE, NOT_FOUND and OUTSIDE_MAX_AGE count against it),
 * over the last SERVING_WINDOW_MINUTES. Metric `served_completeness`; a feature nobody read in
 * the window reports nothing.
 *
 * @example
 *   servedCompleteness(statuses, view, objectives, now, window)
 *   // => [{ metric: 'served_completeness', feature: 'spend', value: 0.97, objective: 0.95, state: 'ok', detail: { served: 1200, PRESENT: 1164, NOT_FOUND: 36, ... } }]
 */
export function servedCompleteness(statuses: readonly StatusCount[], view: FeatureView, objectives: ViewObjectives, now: number, window: { from: number; to: number }): MonitorResult[] {
  const names = new Set([view.name, `${view.name}@${view.version}`]);
  const out: MonitorResult[] = [];
  for (const f of view.features) {
    const counts: Record<string, number> = {};
    for (const s of statuses) if (names.has(s.view) && s.feature === f.name) counts[s.status] = (counts[s.status] ?? 0) + s.count;
    const served = Object.values(counts).reduce((a, b) => a + b, 0);
    if (served === 0) continue;
    const value = (counts.PRESENT ?? 0) / served;
    const objective = objectives.features[f.name]!.completeness;
    out.push({
      view: view.name,
      version: view.version,
      metric: 'served_completeness',
      feature: f.name,
      value,
      objective,
      state: stateOf({ kind: 'min', value, objective }),
      detail: { served, ...counts, fromMinute: new Date(window.from * 60_000).toISOString(), source: 'serving-counters' },
      measuredAt: new Date(now),
    });
  }
  return out;
}

/**
 * The p99 latency of a feature service over the servers' shared latency buckets (every replica's
 * responses), in milliseconds, interpolated inside its bucket as Prometheus' histogram_quantile
 * does (past the last finite bound: that bound). Stored as metric `latency_p99` under the service's
 * name (version 0: a service has none), against its objective (default 10 ms).
 *
 * @example
 *   serviceLatency(latency, 'fraud_model_v1', 10, now, window) // => [{ view: 'fraud_model_v1', version: 0, metric: 'latency_p99', value: 4.2, objective: 10, state: 'ok', ... }]
 */
export function serviceLatency(latency: readonly LatencyCount[], service: string, objectiveMs: number, now: number, window: { from: number; to: number }): MonitorResult[] {
  const buckets = latency.filter((l) => l.featureService === service).sort((a, b) => a.le - b.le);
  const total = buckets.reduce((a, b) => a + b.count, 0);
  if (total === 0) return [];
  const value = quantileMs(buckets, 0.99);
  return [
    {
      view: service,
      version: 0,
      metric: 'latency_p99',
      feature: '',
      value,
      objective: objectiveMs,
      state: stateOf({ kind: 'max', value, objective: objectiveMs }),
      detail: { responses: total, fromMinute: new Date(window.from * 60_000).toISOString(), source: 'serving-counters', kind: 'featureService' },
      measuredAt: new Date(now),
    },
  ];
}

/** The q-quantile of bucket counts (upper bounds in seconds, sorted), in ms. */
export function quantileMs(buckets: readonly LatencyCount[], q: number): number {
  const total = buckets.reduce((a, b) => a + b.count, 0);
  const rank = q * total;
  let seen = 0;
  let lower = 0;
  for (const b of buckets) {
    if (seen + b.count >= rank && b.count > 0) {
      if (!Number.isFinite(b.le)) return lower * 1000;
      return (lower + (b.le - lower) * ((rank - seen) / b.count)) * 1000;
    }
    seen += b.count;
    if (Number.isFinite(b.le)) lower = b.le;
  }
  return lower * 1000;
}
