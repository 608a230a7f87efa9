import type { ScheduleSummary } from '../sdk/schedule-summaries.ts';
import { formatTable } from './output.ts';

/**
 * Schedules as `granary schedule list` and `granary compact --list` print them.
 *
 * @example
 *   scheduleTable([{ scheduleId: 'compact-schedule/fraud/user_spend/v1', spec: 'every 6h', paused: false, ... }])
 *   // SCHEDULE                              SPEC      STATE   NEXT RUN                  LAST RUN
 *   // compact-schedule/fraud/user_spend/v1  every 6h  active  2026-12-01T21:00:00.000Z  -
 */
export function scheduleTable(list: readonly ScheduleSummary[]): string[] {
  return formatTable(
    ['SCHEDULE', 'SPEC', 'STATE', 'NEXT RUN', 'LAST RUN'],
    list.map((s) => [
      s.scheduleId,
      s.spec,
      s.paused ? `paused (${s.note})` : 'active',
      s.nextRuns[0]?.toISOString() ?? '-',
      s.recentRuns.at(-1)?.scheduledAt.toISOString() ?? '-',
    ]),
  );
}
