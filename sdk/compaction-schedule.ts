import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { parseDurationSeconds } from '../definitions/duration.ts';
import { workflowIds, type CompactInput, type ViewRef } from '../workflows/contracts.ts';
import { compactAction } from '../workflows/starters.ts';
import { scheduleSummaries, type ScheduleSummary } from './schedule-summaries.ts';

/**
 * A view's compaction on a Temporal Schedule (`compact-schedule/<project>/<view>/v<version>`):
 * every `every`, the compaction workflow folds the commits since the last snapshot into a new
 * one, so that a rebuild reads one row per entity plus the commits of the last interval. A run
 * still going when the next is due is skipped. Two compactions at once (a scheduled and a manual
 * one) are harmless: the same seq and partitions give the same runs at the same keys.
 *
 * @example
 *   await scheduleCompaction(client, 'granary', { project: 'fraud', view: 'user_spend', version: 1, partitions: 8 }, { every: '6h' });
 *   // => 'created' (or 'updated' when the view had one)
 */
export async function scheduleCompaction(client: Client, taskQueue: string, input: CompactInput, when: { every: string }): Promise<'created' | 'updated'> {
  const seconds = parseDurationSeconds(when.every);
  if (!seconds || seconds < 1) throw new Error(`compaction schedule for feature view '${input.view}': every must be a duration such as 6h, got '${when.every}'`);
  const options = {
    scheduleId: workflowIds.compactSchedule(input),
    spec: { intervals: [{ every: `${seconds}s` }] },
    action: compactAction(input, taskQueue),
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h', pauseOnFailure: false },
  };
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(options.scheduleId).update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
    return 'updated';
  }
}

/**
 * Deletes a view's compaction schedule; a view without one is an error naming it.
 *
 * @example
 *   await unscheduleCompaction(client, { project: 'fraud', view: 'user_spend', version: 1 });
 */
export async function unscheduleCompaction(client: Client, ref: ViewRef): Promise<void> {
  try {
    await client.schedule.getHandle(workflowIds.compactSchedule(ref)).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    throw new Error(`no compaction schedule for feature view '${ref.view}' version ${ref.version} in project '${ref.project}'`);
  }
}

/** The compaction schedules of a project, described, in id order. */
export function compactionSchedules(client: Client, project: string): Promise<ScheduleSummary[]> {
  return scheduleSummaries(client, workflowIds.compactSchedules(project));
}
