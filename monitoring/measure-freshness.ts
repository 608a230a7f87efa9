import type { FeatureView } from '../definitions/feature-view.ts';
import type { MonitorResult } from '../stores/registry/monitor-results.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { stateOf } from './monitor-state.ts';
import type { ViewObjectives } from './objectives.ts';

/**
 * Freshness of one view, twice: `freshness` from the commit log (now - the newest committed
 * event time: is data arriving?) and, for online views, `online_freshness` from the active
 * generation (now - the newest event time committed up to its watermark: is it served?). Values
 * in seconds; warn past the TTL, alert past TTL + threshold (default 2 h). A view with no commit
 * at all is reported with an infinite age (alert).
 *
 * @example
 *   await measureFreshness(registry, view, objectives, Date.now())
 *   // => [{ metric: 'freshness', value: 420, objective: 93600, state: 'ok', ... }, { metric: 'online_freshness', ... }]
 */
export async function measureFreshness(
  registry: Pick<Registry, 'latestCommitSeq' | 'newestEventTime' | 'activeGeneration' | 'watermark'>,
  view: FeatureView,
  objectives: ViewObjectives,
  now: number,
): Promise<MonitorResult[]> {
  const objective = objectives.ttlSeconds + objectives.freshnessThresholdSeconds;
  const result = (metric: string, newest: Date | undefined, detail: Record<string, unknown>): MonitorResult => {
    const value = newest === undefined ? Number.MAX_VALUE : Math.max(0, (now - newest.getTime()) / 1000);
    return {
      view: view.name,
      version: view.version,
      metric,
      feature: '',
      value,
      objective,
      state: stateOf({ kind: 'max', value, objective, warnAt: objectives.ttlSeconds }),
      detail: { ...detail, newestEventTime: newest?.toISOString() ?? null, ttlSeconds: objectives.ttlSeconds },
      measuredAt: new Date(now),
    };
  };
  const latest = await registry.latestCommitSeq(view.name, view.version);
  const out = [result('freshness', latest === 0 ? undefined : await registry.newestEventTime(view.name, view.version, latest), { seq: latest })];
  if (view.online) {
    const generation = await registry.activeGeneration(view.name, view.version);
    const watermark = await registry.watermark(view.name, view.version, generation.generation);
    const newest = watermark === 0 ? undefined : await registry.newestEventTime(view.name, view.version, watermark);
    out.push(result('online_freshness', newest, { generation: generation.generation, watermark }));
  }
  return out;
}
