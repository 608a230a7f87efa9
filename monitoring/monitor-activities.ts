import { heartbeat } from '@temporalio/activity';
import type { ActivityDeps } from '../activities/activity-deps.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import { registeredView } from '../pipelines/registered-view.ts';
import type { MonitorResult, MonitorResults } from '../stores/registry/monitor-results.ts';
import type { MonitorInput, ViewRef } from '../workflows/contracts.ts';
import { driftResults } from './distribution-results.ts';
import { measureCompleteness } from './measure-completeness.ts';
import { measureFreshness } from './measure-freshness.ts';
import { viewObjectives } from './objectives.ts';
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

    async measureViewCompleteness(ref: ViewRef): Promise<MonitorResult[]> {
      const view = await viewOf(ref);
      return measureCompleteness(deps.registry(ref.project), deps.online, ref.project, view, viewObjectives(view), now());
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
