import type { FeatureView } from '../definitions/feature-view.ts';
import type { MonitorResult } from '../stores/registry/monitor-results.ts';
import { stateOf } from './monitor-state.ts';
import type { ViewObjectives } from './objectives.ts';
import type { FeatureDrift } from './view-distribution.ts';

/**
 * The results of distribution monitoring, per feature: `psi`, `ks` (numeric features) against
 * their maximum, and `window_completeness` (the share of non-null values in the window, nulls
 * being reported apart from the bins) against the completeness objective.
 *
 * @example
 *   driftResults(view, objectives, drift, Date.now())
 *   // => [{ metric: 'psi', feature: 'spend', value: 0.31, objective: 0.2, state: 'alert', ... }, { metric: 'ks', ... }, ...]
 */
export function driftResults(view: FeatureView, objectives: ViewObjectives, drift: readonly FeatureDrift[], now: number): MonitorResult[] {
  const out: MonitorResult[] = [];
  for (const d of drift) {
    const o = objectives.features[d.feature]!;
    const base = { view: view.name, version: view.version, feature: d.feature, measuredAt: new Date(now) };
    const window = { windowStart: new Date(d.windowStart).toISOString(), windowEnd: new Date(d.windowEnd).toISOString(), rows: d.rows, binned: d.binned };
    out.push({ ...base, metric: 'psi', value: d.psi, objective: o.psi, state: stateOf({ kind: 'max', value: d.psi, objective: o.psi }), detail: { ...window, baselineShares: d.baselineShares, currentShares: d.currentShares } });
    if (d.ks !== null) out.push({ ...base, metric: 'ks', value: d.ks, objective: o.ks, state: stateOf({ kind: 'max', value: d.ks, objective: o.ks }), detail: window });
    if (d.rows > 0) {
      const value = (d.rows - d.nulls) / d.rows;
      out.push({ ...base, metric: 'window_completeness', value, objective: o.completeness, state: stateOf({ kind: 'min', value, objective: o.completeness }), detail: { ...window, nulls: d.nulls } });
    }
  }
  return out;
}
