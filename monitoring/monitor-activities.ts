import { heartbeat } from '@temporalio/activity';
import type { ActivityDeps } from '../activities/activity-deps.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import { registeredView } from '../pipelines/registered-view.ts';
import type { MonitorResult, MonitorResults } from '../stores/registry/monitor-results.ts';
import type { FeatureServiceSpec } from '../definitions/spec.ts';
import type { ServingCounters } from '../stores/online/redis-serving-counters.ts';
import type { MonitorInput, ServiceRef, ViewRef } from '../workflows/contracts.ts';
import { driftResults } from './distribution-results.ts';
import { measureCompleteness } from './measure-completeness.ts';
import { measureFreshness } from './measure-freshness.ts';
import { servedCompleteness, serviceLatency, servingWindow } from './measure-serving.ts';
import { SKEW_LOG_GRACE_MS, measureSkew } from './measure-skew.ts';
import { stateOf } from './monitor-state.ts';
import { DEFAULT_OBJECTIVES, serviceLatencyObjectiveMs, viewObjectives } from './objectives.ts';
import { measureDistribution } from './view-distribution.ts';
import { notifyStateChanges, stateChanges } from './webhook-notifier.ts';

/** What monitoring activities need beyond the pipeline's stores. */
export interface MonitorDeps extends Pick<ActivityDeps, 'registry' | 'offline' | 'online'> {
  /** The results table of a project (cached by the caller). */
  readonly monitorResults: (project: string) => MonitorResults;
  /** URLs notified on every state change. */
  readonly webhooks: readonly string[];
  /** DuckDB's memory limit for distribution monitoring. */
  readonly duckdbMemoryLimit?: string;
  /** The feature servers' shared counters (served statuses, latency buckets); without them, no served completeness and no latency. */
  readonly servingCounters?: ServingCounters;
  readonly now?: () => number;
}

/**
 * The activities of the monitoring workflow, each one dimension of one view (small, idempotent:
 * they read, and the results are written once per run by `recordMonitorResults`).
 *
 * @example
 *   const activities = { ...createActivities(deps), ...createMonitorActivities({ ...deps, monitorResults, webhooks }) };
 */
export function createMonitorActivities(deps: MonitorDeps) {
  const now = deps.now ?? Date.now;
  const viewOf = async (ref: ViewRef): Promise<FeatureView> => (await registeredView(deps.registry(ref.project), ref)).view;
  return {
    /** The active views of the project (the current version of each), or the ones named. */
    async monitorTargets(input: Pick<MonitorInput, 'project' | 'views'>): Promise<ViewRef[]> {
      const registry = deps.registry(input.project);
      const objects = (await registry.listObjects('featureView')).filter((o) => o.status === 'active');
      const newest = new Map<string, number>();
      for (const o of objects) newest.set(o.name, Math.max(newest.get(o.name) ?? 0, o.version));
      const wanted = input.views?.length ? input.views : [...newest.keys()].sort();
      return wanted.map((view) => {
        const version = newest.get(view);
        if (version === undefined) throw new Error(`monitoring: no active feature view '${view}' in project '${input.project}'`);
        return { project: input.project, view, version };
      });
    },

    async measureViewFreshness(ref: ViewRef): Promise<MonitorResult[]> {
      const view = await viewOf(ref);
      return measureFreshness(deps.registry(ref.project), view, viewObjectives(view), now());
    },

    /** Completeness among a sample of the latest online rows and, with serving counters, among served lookups. */
    async measureViewCompleteness(ref: ViewRef): Promise<MonitorResult[]> {
      const view = await viewOf(ref);
      const at = now();
      const online = await measureCompleteness(deps.registry(ref.project), deps.online, ref.project, view, viewObjectives(view), at);
      if (!deps.servingCounters) return online;
      const window = servingWindow(at);
      const { statuses } = await deps.servingCounters.read(ref.project, window.from, window.to);
      return [...online, ...servedCompleteness(statuses, view, viewObjectives(view), at, window)];
    },

    /** The active feature services of the project (skew and latency are measured per service). */
    async monitorServiceTargets(input: Pick<MonitorInput, 'project'>): Promise<ServiceRef[]> {
      const objects = (await deps.registry(input.project).listObjects('featureService')).filter((o) => o.status === 'active');
      return [...new Set(objects.map((o) => o.name))].sort().map((service) => ({ project: input.project, service }));
    },

    /**
     * Skew of one feature service over the sample log objects written since the last run (the
     * last skew result's detail.lastObject); nothing when no new object (the last result stands).
     */
    async measureServiceSkew(ref: ServiceRef): Promise<MonitorResult[]> {
      const [last] = await deps.monitorResults(ref.project).history(ref.service, 'skew', { limit: 1 });
      const after = typeof last?.detail.lastObject === 'string' ? last.detail.lastObject : null;
      const at = now();
      const beat = setInterval(() => heartbeat(), 2000);
      try {
        const skew = await measureSkew(
          { registry: deps.registry(ref.project), offline: deps.offline, ...(deps.duckdbMemoryLimit ? { memoryLimit: deps.duckdbMemoryLimit } : {}) },
          ref.project,
          ref.service,
          { after, until: at - SKEW_LOG_GRACE_MS },
        );
        if (skew.objects === 0) return [];
        const objective = DEFAULT_OBJECTIVES.skewMismatches;
        return [
          {
            view: ref.service,
            version: 0,
            metric: 'skew',
            feature: '',
            value: skew.mismatched,
            objective,
            state: stateOf({ kind: 'max', value: skew.mismatched, objective, warnAt: objective }),
            detail: {
              kind: 'featureService',
              checked: skew.checked,
              matched: skew.matched,
              lagged: skew.lagged,
              mismatched: skew.mismatched,
              mismatchShare: skew.checked ? skew.mismatched / skew.checked : 0,
              lagShare: skew.checked ? skew.lagged / skew.checked : 0,
              mismatches: skew.mismatches,
              objects: skew.objects,
              lastObject: skew.lastObject,
            },
            measuredAt: new Date(at),
          },
        ];
      } finally {
        clearInterval(beat);
      }
    },

    /** The p99 latency of a feature service from the servers' shared latency buckets. */
    async measureServiceLatency(ref: ServiceRef): Promise<MonitorResult[]> {
      if (!deps.servingCounters) return [];
      const object = (await deps.registry(ref.project).listObjects('featureService')).find((o) => o.name === ref.service && o.status === 'active');
      if (!object) return [];
      const at = now();
      const window = servingWindow(at);
      const { latency } = await deps.servingCounters.read(ref.project, window.from, window.to);
      return serviceLatency(latency, ref.service, serviceLatencyObjectiveMs(object.spec as FeatureServiceSpec), at, window);
    },

    async measureViewDistribution(ref: ViewRef): Promise<MonitorResult[]> {
      const view = await viewOf(ref);
      const objectives = viewObjectives(view);
      const baselines = await deps.monitorResults(ref.project).baselines(ref.view, ref.version);
      const beat = setInterval(() => heartbeat(), 2000);
      try {
        const drift = await measureDistribution(
          { registry: deps.registry(ref.project), offline: deps.offline, ...(deps.duckdbMemoryLimit ? { memoryLimit: deps.duckdbMemoryLimit } : {}) },
          view,
          baselines,
          { windowSeconds: objectives.windowSeconds },
        );
        return driftResults(view, objectives, drift, now());
      } finally {
        clearInterval(beat);
      }
    },

    /** Writes the run's results (once per run) and POSTs the state changes to the webhooks. */
    async recordMonitorResults(input: { project: string; runId: string; results: readonly MonitorResult[] }): Promise<{ recorded: number; changes: number }> {
      const results = input.results.map((r) => ({ ...r, measuredAt: new Date(r.measuredAt) }));
      const recorded = await deps.monitorResults(input.project).record(input.runId, results);
      const changes = stateChanges(recorded);
      await notifyStateChanges(deps.webhooks, input.project, changes);
      return { recorded: recorded.length, changes: changes.length };
    },
  };
}

export type MonitorActivities = ReturnType<typeof createMonitorActivities>;
