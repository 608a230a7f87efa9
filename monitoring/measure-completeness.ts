import type { FeatureView } from '../definitions/feature-view.ts';
import { onlineTargetOf, type OnlineStore } from '../stores/online/online-store.ts';
import type { MonitorResult } from '../stores/registry/monitor-results.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { stateOf } from './monitor-state.ts';
import type { ViewObjectives } from './objectives.ts';

/** Online rows read per view and run (the first batches of a scan of the active generation). */
export const DEFAULT_SAMPLE_ROWS = 10_000;

/**
 * Completeness of each feature of an online view from a sample of its latest online rows (the
 * active generation, read with the online store's scan, up to `sampleRows` rows): the share of
 * rows whose value is not null. Alert below the objective (default 0.95). A view with no online
 * row yet reports nothing (freshness says so).
 *
 * @example
 *   await measureCompleteness(registry, online, project, view, objectives, Date.now())
 *   // => [{ metric: 'completeness', feature: 'conv_rate', value: 0.998, objective: 0.95, state: 'ok', detail: { rows: 10000 } }, ...]
 */
export async function measureCompleteness(
  registry: Pick<Registry, 'activeGeneration'>,
  online: Pick<OnlineStore, 'scanRows'>,
  project: string,
  view: FeatureView,
  objectives: ViewObjectives,
  now: number,
  sampleRows = DEFAULT_SAMPLE_ROWS,
): Promise<MonitorResult[]> {
  if (!view.online) return [];
  const generation = await registry.activeGeneration(view.name, view.version);
  const target = onlineTargetOf(project, view, generation.generation);
  const nonNull = new Map(view.features.map((f) => [f.name, 0]));
  let rows = 0;
  for await (const batch of online.scanRows(target, Math.min(1000, sampleRows))) {
    for (const row of batch) {
      if (rows >= sampleRows) break;
      rows++;
      for (const f of view.features) if (row.values[f.name] !== null && row.values[f.name] !== undefined) nonNull.set(f.name, nonNull.get(f.name)! + 1);
    }
    if (rows >= sampleRows) break;
  }
  if (rows === 0) return [];
  return view.features.map((f) => {
    const objective = objectives.features[f.name]!.completeness;
    const value = nonNull.get(f.name)! / rows;
    return {
      view: view.name,
      version: view.version,
      metric: 'completeness',
      feature: f.name,
      value,
      objective,
      state: stateOf({ kind: 'min', value, objective }),
      detail: { rows, nulls: rows - nonNull.get(f.name)!, generation: generation.generation, source: 'online-sample' },
      measuredAt: new Date(now),
    };
  });
}
