import type { FeatureMonitoring, ServiceMonitoring, ViewMonitoring } from '../definitions/monitoring-objectives.ts';

/**
 * The objectives one view is monitored against: what it declares (definitions/monitoring-objectives.ts)
 * over the defaults every view gets. A feature's own objectives override the view's.
 *
 * @example
 *   viewObjectives(specOf(userSpend)) // => { freshnessThresholdSeconds: 7200, completeness: 0.95, psi: 0.2, ks: 0.1,
 *                                     //      windowSeconds: 86400, ttlSeconds: 86400, features: { spend: {...} } }
 */
export const DEFAULT_OBJECTIVES = Object.freeze({
  freshnessThresholdSeconds: 2 * 3600,
  completeness: 0.95,
  psi: 0.2,
  ks: 0.1,
  windowSeconds: 86_400,
  latencyP99Ms: 10,
  /** True skew mismatches allowed per run (monitoring/measure-skew.ts): none. */
  skewMismatches: 0,
});

export interface FeatureObjectives {
  readonly completeness: number;
  readonly psi: number;
  readonly ks: number;
}

export interface ViewObjectives extends FeatureObjectives {
  readonly ttlSeconds: number;
  readonly freshnessThresholdSeconds: number;
  readonly windowSeconds: number;
  readonly features: Readonly<Record<string, FeatureObjectives>>;
}

/** A view or its spec: what objectives are read from. */
export interface MonitoredView {
  readonly ttlSeconds: number;
  readonly features: readonly { readonly name: string; readonly monitoring?: FeatureMonitoring }[];
  readonly monitoring?: ViewMonitoring;
}

export function viewObjectives(spec: MonitoredView): ViewObjectives {
  const m = spec.monitoring ?? {};
  const view = {
    completeness: m.completeness ?? DEFAULT_OBJECTIVES.completeness,
    psi: m.psi ?? DEFAULT_OBJECTIVES.psi,
    ks: m.ks ?? DEFAULT_OBJECTIVES.ks,
  };
  return {
    ...view,
    ttlSeconds: spec.ttlSeconds,
    freshnessThresholdSeconds: m.freshnessThresholdSeconds ?? DEFAULT_OBJECTIVES.freshnessThresholdSeconds,
    windowSeconds: m.windowSeconds ?? DEFAULT_OBJECTIVES.windowSeconds,
    features: Object.fromEntries(spec.features.map((f) => [f.name, { ...view, ...(f.monitoring ?? {}) }])),
  };
}

/** The p99 latency objective of a feature service, in milliseconds. */
export function serviceLatencyObjectiveMs(spec: { readonly monitoring?: ServiceMonitoring }): number {
  return spec.monitoring?.latencyP99Ms ?? DEFAULT_OBJECTIVES.latencyP99Ms;
}
