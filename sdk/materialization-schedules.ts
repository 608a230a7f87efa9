import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleSpec,
} from '@temporalio/client';
import { parseDurationSeconds } from '../definitions/duration.ts';
import { scheduleSummaries, type ScheduleSummary } from './schedule-summaries.ts';
import { workflowIds, type ViewRef } from '../workflows/contracts.ts';
import { scheduledMaterializeAction } from '../workflows/starters.ts';

/**
 * Materialization on a schedule, on Temporal Schedules instead of CronJobs: retries, visible
 * history, and an overlap policy that never runs two materializations of a view at once.
 *
 * @example
 *   await schedules.upsert(ref, { every: '15m' });   // creates, or updates the existing one
 *   await schedules.trigger(ref);                    // one run now
 */
export interface ScheduleWhen {
  /** An interval such as '15m' or '1h'. */
  readonly every?: string;
  /** A cron expression, e.g. '0 * * * *'. */
  readonly cron?: string;
  /** How far back missed runs are caught up after an outage; default '1h'. */
  readonly catchupWindow?: string;
}

const SCHEDULE_PREFIX = 'materialize-schedule/';

export class MaterializationSchedules {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** Creates the view's schedule, or updates it when it exists. Returns 'created' or 'updated'. */
  async upsert(ref: ViewRef, when: ScheduleWhen): Promise<'created' | 'updated'> {
    const options = this.options(ref, when);
    try {
      try {
        await this.client.schedule.create(options);
        return 'created';
      } catch (error) {
        if (!(error instanceof ScheduleAlreadyRunning)) throw error;
        await this.client.schedule.getHandle(options.scheduleId).update((previous) => ({
          ...previous,
          spec: options.spec,
          action: options.action,
          policies: { ...previous.policies, ...options.policies },
        }));
        return 'updated';
      }
    } catch (error) {
      // The Temporal client reports a spec the server refuses (e.g. a bad cron string) as a bare TypeError.
      if (error instanceof TypeError && when.cron) {
        throw new Error(`schedule for feature view '${ref.view}': --cron '${when.cron}' is not a valid cron expression: ${error.message}`);
      }
      throw error;
    }
  }

  async list(project: string): Promise<ScheduleSummary[]> {
    return scheduleSummaries(this.client, `${SCHEDULE_PREFIX}${project}/`);
  }

  async pause(ref: ViewRef, note = 'paused with granary schedule pause'): Promise<void> {
    await this.handle(ref, (h) => h.pause(note));
  }

  async resume(ref: ViewRef, note = 'resumed with granary schedule resume'): Promise<void> {
    await this.handle(ref, (h) => h.unpause(note));
  }

  async trigger(ref: ViewRef): Promise<void> {
    await this.handle(ref, (h) => h.trigger(ScheduleOverlapPolicy.SKIP));
  }

  async delete(ref: ViewRef): Promise<void> {
    await this.handle(ref, (h) => h.delete());
  }

  private async handle<T>(ref: ViewRef, act: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<T>): Promise<T> {
    try {
      return await act(this.client.schedule.getHandle(workflowIds.schedule(ref)));
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) {
        throw new Error(`no materialization schedule for feature view '${ref.view}' version ${ref.version} in project '${ref.project}'`);
      }
      throw error;
    }
  }

  private options(ref: ViewRef, when: ScheduleWhen): ScheduleOptions & { scheduleId: string } {
    return {
      scheduleId: workflowIds.schedule(ref),
      spec: scheduleSpec(ref, when),
      action: scheduledMaterializeAction(ref, this.taskQueue),
      policies: {
        // A run still going when the next is due: skip it (the running one catches up anyway).
        overlap: ScheduleOverlapPolicy.SKIP,
        catchupWindow: catchupWindow(ref, when.catchupWindow ?? '1h'),
        pauseOnFailure: false,
      },
    };
  }
}

function scheduleSpec(ref: ViewRef, when: ScheduleWhen): ScheduleSpec {
  if ((when.every ? 1 : 0) + (when.cron ? 1 : 0) !== 1) {
    throw new Error(`schedule for feature view '${ref.view}': give exactly one of --every (e.g. 15m) or --cron (e.g. '0 * * * *')`);
  }
  if (when.every) {
    const seconds = parseDurationSeconds(when.every);
    if (!seconds || seconds < 1) throw new Error(`schedule for feature view '${ref.view}': --every must be a duration such as 15m or 1h, got '${when.every}'`);
    return { intervals: [{ every: `${seconds}s` }] };
  }
  return { cronExpressions: [when.cron!] };
}

function catchupWindow(ref: ViewRef, value: string): string {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined || seconds < 1) {
    throw new Error(`schedule for feature view '${ref.view}': --catchup-window must be a duration such as 10m or 1h, got '${value}'`);
  }
  return `${seconds}s`;
}
