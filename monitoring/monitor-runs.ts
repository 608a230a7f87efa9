import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { parseDurationSeconds } from '../definitions/duration.ts';
import { monitorWorkflowIds, type MonitorDimension, type MonitorInput, type MonitorRunResult } from '../workflows/contracts.ts';
import type { monitorWorkflow } from '../workflows/monitor-workflow.ts';

/**
 * Starting monitoring from a client: one run now (`granary monitor run`), and the three Temporal
 * Schedules (`granary monitor schedule`): freshness, completeness and latency every minute, skew
 * hourly, distribution daily, each with overlap SKIP (a run still going when the next is due is
 * not doubled).
 *
 * @example
 *   await runMonitor(client, 'granary', { project: 'fraud', dimensions: ['freshness'] }) // => { views: 3, results: 6, alerts: 0, ... }
 *   await upsertMonitorSchedules(client, 'granary', 'fraud') // => [{ scheduleId: 'monitor-schedule/fraud/minutely', outcome: 'created' }, ...]
 */
export async function runMonitor(client: Client, taskQueue: string, input: MonitorInput): Promise<MonitorRunResult> {
  const handle = await client.workflow.start<typeof monitorWorkflow>('monitorWorkflow', {
    taskQueue,
    workflowId: monitorWorkflowIds.run(input),
    args: [input],
    // The same request while one runs: wait for that run (it measures what was asked, now).
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
  return handle.result();
}

export interface MonitorCadence {
  readonly name: string;
  readonly every: string;
  readonly dimensions: readonly MonitorDimension[];
}

export const DEFAULT_CADENCES: readonly MonitorCadence[] = [
  { name: 'minutely', every: '1m', dimensions: ['freshness', 'completeness', 'latency'] },
  { name: 'hourly', every: '1h', dimensions: ['skew'] },
  { name: 'daily', every: '1d', dimensions: ['distribution'] },
];

export async function upsertMonitorSchedules(
  client: Client,
  taskQueue: string,
  project: string,
  cadences: readonly MonitorCadence[] = DEFAULT_CADENCES,
): Promise<{ scheduleId: string; every: string; outcome: 'created' | 'updated' }[]> {
  const out: { scheduleId: string; every: string; outcome: 'created' | 'updated' }[] = [];
  for (const cadence of cadences) {
    const seconds = parseDurationSeconds(cadence.every);
    if (seconds === undefined || seconds < 1) throw new Error(`monitor schedule '${cadence.name}': '${cadence.every}' is not a duration such as 1m or 1d`);
    const input: MonitorInput = { project, dimensions: cadence.dimensions };
    const scheduleId = monitorWorkflowIds.schedule(project, cadence.name);
    const options = {
      scheduleId,
      spec: { intervals: [{ every: `${seconds}s` }] },
      action: { type: 'startWorkflow' as const, workflowType: 'monitorWorkflow', workflowId: `${monitorWorkflowIds.run(input)}/scheduled`, taskQueue, args: [input] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m', pauseOnFailure: false },
    };
    try {
      await client.schedule.create(options);
      out.push({ scheduleId, every: cadence.every, outcome: 'created' });
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
      out.push({ scheduleId, every: cadence.every, outcome: 'updated' });
    }
  }
  return out;
}
