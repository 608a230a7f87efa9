import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { MonitorActivities } from '../monitoring/monitor-activities.ts';
import type { MonitorResult } from '../stores/registry/monitor-results.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import type { MonitorInput, MonitorRunResult } from './contracts.ts';

const { monitorTargets, measureViewFreshness, measureViewCompleteness, recordMonitorResults, monitorServiceTargets, measureServiceLatency } =
  proxyActivities<MonitorActivities>(shortActivity);
const { measureViewDistribution, measureServiceSkew } = proxyActivities<MonitorActivities>(longActivity);

/** Runs recorded before the service dimensions (skew, latency) never measured them. */
export const SERVICE_DIMENSIONS_PATCH = 'monitor-service-dimensions';

/**
 * One monitoring run of a project (`monitor/<project>/...`, started by `granary monitor run` or
 * by the monitoring schedules): lists the views, measures each asked dimension of each view (one
 * activity per view and dimension, views side by side), then, when skew or latency is asked, the
 * same per feature service, then records every result with its time in the registry and
 * notifies the webhooks of state changes (one activity). Passes results (a few numbers per
 * feature, a few named mismatches), never rows.
 */
export async function monitorWorkflow(input: MonitorInput): Promise<MonitorRunResult> {
  const refs = await monitorTargets({ project: input.project, ...(input.views ? { views: input.views } : {}) });
  const wants = new Set(input.dimensions);
  const perView = await Promise.all(
    refs.map(async (ref) => {
      const out: MonitorResult[] = [];
      if (wants.has('freshness')) out.push(...(await measureViewFreshness(ref)));
      if (wants.has('completeness')) out.push(...(await measureViewCompleteness(ref)));
      if (wants.has('distribution')) out.push(...(await measureViewDistribution(ref)));
      return out;
    }),
  );
  let services = 0;
  if ((wants.has('skew') || wants.has('latency')) && patched(SERVICE_DIMENSIONS_PATCH)) {
    const targets = await monitorServiceTargets({ project: input.project });
    services = targets.length;
    const perService = await Promise.all(
      targets.map(async (ref) => [...(wants.has('skew') ? await measureServiceSkew(ref) : []), ...(wants.has('latency') ? await measureServiceLatency(ref) : [])]),
    );
    perView.push(...perService);
  }
  const results = perView.flat();
  const { changes } = await recordMonitorResults({ project: input.project, runId: workflowInfo().runId, results });
  return {
    views: refs.length,
    ...(services > 0 ? { services } : {}),
    results: results.length,
    alerts: results.filter((r) => r.state === 'alert').length,
    warnings: results.filter((r) => r.state === 'warn').length,
    changes,
  };
}
