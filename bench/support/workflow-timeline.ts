import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';

/** One activity of a workflow run: its first input and when the server scheduled, started and completed it (ms since epoch). */
export interface ActivityTimes {
  readonly name: string;
  readonly input: unknown;
  readonly scheduledMs: number;
  readonly startedMs?: number;
  readonly completedMs?: number;
  readonly result?: unknown;
}

/** What a benchmark reads of one workflow run's history: when it started and ended, its activities and timers in order. */
export interface WorkflowTimeline {
  readonly workflowId: string;
  readonly runId: string;
  readonly startedMs: number;
  readonly closedMs?: number;
  readonly activities: readonly ActivityTimes[];
  /** Timers started (workflow `sleep` and `condition` timeouts): when, and for how long (ms). */
  readonly timers: readonly { readonly startedMs: number; readonly durationMs: number }[];
  /** Signals received, when. */
  readonly signalsMs: readonly number[];
}

type Timestamp = { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined;
const msOf = (t: Timestamp): number => Number(t?.seconds?.toString() ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
const idOf = (id: { toString(): string } | number | null | undefined): string => String(id?.toString() ?? '');

/**
 * The timeline of one workflow run, from its history on the server (event times are the
 * server's clock: the same machine's clock as the benchmark's on a local stack).
 *
 * @example
 *   const t = await workflowTimeline(client, 'ingest/p/user_features/v1/b3');
 *   t.activities.map((a) => a.name) // => ['writeBatchObjects', 'commitBatch', 'migrationTargets', 'materializationState', ...]
 */
export async function workflowTimeline(client: Client, workflowId: string, runId?: string): Promise<WorkflowTimeline> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const history = await handle.fetchHistory();
  const activities = new Map<string, { name: string; input: unknown; scheduledMs: number; startedMs?: number; completedMs?: number; result?: unknown }>();
  const timers: { startedMs: number; durationMs: number }[] = [];
  const signalsMs: number[] = [];
  let startedMs = 0;
  let closedMs: number | undefined;
  for (const event of history.events ?? []) {
    const at = msOf(event.eventTime as Timestamp);
    if (event.workflowExecutionStartedEventAttributes) startedMs = at;
    else if (event.activityTaskScheduledEventAttributes) {
      const a = event.activityTaskScheduledEventAttributes;
      const payload = a.input?.payloads?.[0];
      activities.set(idOf(event.eventId), { name: a.activityType?.name ?? '', input: payload ? defaultPayloadConverter.fromPayload(payload) : undefined, scheduledMs: at });
    } else if (event.activityTaskStartedEventAttributes) {
      const a = activities.get(idOf(event.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) a.startedMs = at;
    } else if (event.activityTaskCompletedEventAttributes) {
      const done = event.activityTaskCompletedEventAttributes;
      const a = activities.get(idOf(done.scheduledEventId));
      const payload = done.result?.payloads?.[0];
      if (a) {
        a.completedMs = at;
        if (payload) a.result = defaultPayloadConverter.fromPayload(payload);
      }
    } else if (event.timerStartedEventAttributes) {
      const d = event.timerStartedEventAttributes.startToFireTimeout as Timestamp;
      timers.push({ startedMs: at, durationMs: msOf(d) });
    } else if (event.workflowExecutionSignaledEventAttributes) signalsMs.push(at);
    else if (
      event.workflowExecutionCompletedEventAttributes ||
      event.workflowExecutionFailedEventAttributes ||
      event.workflowExecutionContinuedAsNewEventAttributes ||
      event.workflowExecutionTerminatedEventAttributes
    ) {
      closedMs = at;
    }
  }
  return { workflowId, runId: runId ?? '', startedMs, ...(closedMs !== undefined ? { closedMs } : {}), activities: [...activities.values()], timers, signalsMs };
}

/** Every run of a workflow id (newest first, as the server lists them), as timelines. */
export async function workflowRuns(client: Client, workflowId: string): Promise<WorkflowTimeline[]> {
  const runs: WorkflowTimeline[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'` })) {
    runs.push(await workflowTimeline(client, workflowId, execution.runId));
  }
  return runs;
}
