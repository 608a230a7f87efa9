import type { Client } from '@temporalio/client';
import { formatDuration } from '../definitions/duration.ts';

/** A Temporal Schedule as `granary schedule list` and `granary compact --list` show it. */
export interface ScheduleSummary {
  readonly scheduleId: string;
  readonly paused: boolean;
  readonly note: string;
  readonly spec: string;
  readonly nextRuns: readonly Date[];
  readonly recentRuns: readonly { readonly scheduledAt: Date; readonly workflowId: string }[];
}

/**
 * The schedules whose ids start with `idPrefix`, described, in id order.
 *
 * @example
 *   await scheduleSummaries(client, 'compact-schedule/fraud/')
 *   // => [{ scheduleId: 'compact-schedule/fraud/user_spend/v1', paused: false, note: '', spec: 'every 6h', nextRuns: [...], recentRuns: [] }]
 */
export async function scheduleSummaries(client: Client, idPrefix: string): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const item of client.schedule.list()) {
    if (!item.scheduleId.startsWith(idPrefix)) continue;
    const described = await client.schedule.getHandle(item.scheduleId).describe();
    out.push({
      scheduleId: item.scheduleId,
      paused: described.state.paused,
      note: described.state.note ?? '',
      spec: describeSpec(described.spec),
      nextRuns: described.info.nextActionTimes.slice(0, 3),
      recentRuns: described.info.recentActions.slice(-3).map((a) => ({
        scheduledAt: a.scheduledAt,
        workflowId: a.action.workflow.workflowId,
      })),
    });
  }
  return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

function describeSpec(spec: { intervals?: readonly { every: unknown }[]; calendars?: readonly unknown[] }): string {
  // Described intervals are in milliseconds.
  if (spec.intervals?.length) {
    return spec.intervals.map((i) => `every ${typeof i.every === 'number' ? formatDuration(i.every / 1000) : String(i.every)}`).join(', ');
  }
  return spec.calendars?.length ? 'calendar' : 'none';
}
