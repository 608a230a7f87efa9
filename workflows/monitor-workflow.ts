import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { MonitorActivities } from '../monitoring/monitor-activities.ts';
import type { MonitorResult } from '../stores/registry/monitor-results.ts';
import { longActivity, shortActivity } from './activity-options.ts';
import type { MonitorInput, MonitorRunResult } from './contracts.ts';

const { monitorTargets, measureViewFreshness, measureViewCompleteness, recordMonitorResults } = proxyActivities<MonitorActivities>(shortActivity);
const { measureViewDistribution } = proxyActivities<MonitorActivities>(longActivity);

/**
 * One monitoring run of a project (`monitor/<project>/...`, started by `granary monitor run` or
 * by the monitoring schedules): lists the views, measures each asked dimension of each view (one
 * activity per view and dimension, views side by side), then records every result with its time
 * in the registry and notifies the webhooks of state changes (one activity). Passes results
 * (a few numbers per feature), never rows.
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
  const results = perView.flat();
  const { changes } = await recordMonitorResults({ project: input.project, runId: workflowInfo().runId, results });
  return {
    views: refs.length,
    results: results.length,
    alerts: results.filter((r) => r.state === 'alert').length,
    warnings: results.filter((r) => r.state === 'warn').length,
    changes,
  };
}
