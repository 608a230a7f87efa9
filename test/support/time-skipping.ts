import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { createActivities } from '../../activities/index.ts';
import { ensureTemporalTestServer } from '../../scripts/temporal-test-server.ts';
import { workflowBundlePath } from '../../scripts/worker-process.ts';

/**
 * The fast tier of workflow tests: Granary's real workflow code (the worker's bundle) on
 * Temporal's time-skipping test server (the Java one, installed once per machine by
 * scripts/temporal-test-server.ts), with stub activities that record their calls and return
 * what the test scripted. A timer of a day passes in well under a second of wall time while the
 * test awaits a result; no Redis, PostgreSQL, S3 or dev server is involved. What the activities
 * really do is the integration tests' job (test/pipelines/).
 *
 * @example
 *   const ts = await startTimeSkipping();            // once per test file (starts the server)
 *   const stubs = stubActivities({ latestCommitSeq: () => 0 });
 *   const result = await ts.withWorker(stubs, (taskQueue) =>
 *     ts.client.workflow.execute(scheduledMaterializeWorkflow, { taskQueue, workflowId: 'w1', args: [ref] }));
 *   stubs.names();                                   // => ['latestCommitSeq']
 *   await ts.teardown();
 */
export type Activities = ReturnType<typeof createActivities>;
export type ActivityName = keyof Activities;

/** Each activity the test expects, as a plain function of the activity's input. */
export type ActivityScript = {
  [K in ActivityName]?: (...args: Parameters<Activities[K]>) => Awaited<ReturnType<Activities[K]>> | Promise<Awaited<ReturnType<Activities[K]>>>;
};

export interface ActivityCall {
  readonly name: ActivityName;
  readonly args: readonly unknown[];
  /**
   * Workflow time (ms) the call was scheduled, from the server: skipped time shows here. (The
   * server's clock between tests says less: it may jump years when a result is awaited.)
   */
  readonly scheduledAt: number;
}

export interface StubActivities {
  /** What the worker registers: every Granary activity; those not scripted fail for good. */
  readonly activities: Record<ActivityName, (...args: unknown[]) => Promise<unknown>>;
  /** Every call, in the order they started. */
  readonly calls: readonly ActivityCall[];
  /** The activities called, in order. */
  names(): ActivityName[];
  /** The calls of one activity. */
  callsOf(name: ActivityName): ActivityCall[];
}

/** Every activity name of createActivities (checked below: a new activity must be listed). */
const ACTIVITY_NAMES = [
  'writeBatchObjects',
  'commitBatch',
  'prepareMaterialization',
  'pendingCommits',
  'latestCommitSeq',
  'applyCommit',
  'applyCommits',
  'requestMaterialization',
  'materializationState',
  'requestRebuild',
  'beginRebuild',
  'rebuildPartition',
  'planRebuild',
  'planVerify',
  'scatterSlice',
  'buildPartition',
  'dropRebuildRuns',
  'verifyPartition',
  'finishVerify',
  'reportVerify',
  'markRebuiltUpTo',
  'verifyGeneration',
  'cutOver',
  'dropRetiredGenerations',
  'migrationTargets',
  'migrateCommit',
  'beginMigration',
  'backfillMigration',
  'verifyMigration',
  'switchServices',
  'pinnedServices',
  'removeOldOnlineKeys',
  'failMigration',
  'rollBackMigration',
  'planHistorical',
  'joinHistoricalPartition',
  'mergeHistorical',
  'dropHistoricalRun',
  'planCompaction',
  'compactPartition',
  'recordSnapshot',
] as const satisfies readonly ActivityName[];
type Unlisted = Exclude<ActivityName, (typeof ACTIVITY_NAMES)[number]>;
const everyActivityListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyActivityListed;

/**
 * Stub activities from a script. An activity the script does not name fails without retry
 * ('UnexpectedActivity'), and so does a script that throws anything but an ApplicationFailure
 * (retried without limit, it would spin while time is skipped).
 */
export function stubActivities(script: ActivityScript): StubActivities {
  const calls: ActivityCall[] = [];
  const activities = {} as Record<ActivityName, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ACTIVITY_NAMES) {
    const fn = script[name] as ((...args: unknown[]) => unknown) | undefined;
    activities[name] = async (...args: unknown[]) => {
      calls.push({ name, args, scheduledAt: activityInfo().currentAttemptScheduledTimestampMs });
      if (fn === undefined) throw ApplicationFailure.nonRetryable(`activity ${name} was not expected by this test`, 'UnexpectedActivity');
      try {
        return await fn(...args);
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        throw ApplicationFailure.nonRetryable(`stub ${name} threw: ${error instanceof Error ? error.message : String(error)}`, 'StubError');
      }
    };
  }
  return {
    activities,
    calls,
    names: () => calls.map((c) => c.name),
    callsOf: (name) => calls.filter((c) => c.name === name),
  };
}

export interface TimeSkipping {
  readonly env: TestWorkflowEnvironment;
  /** Awaiting a workflow's result through this client lets the server skip time. */
  readonly client: Client;
  /** Runs `fn` while a worker of the workflow bundle, with these stubs, polls a task queue of its own. */
  withWorker<T>(stubs: StubActivities, fn: (taskQueue: string) => Promise<T>): Promise<T>;
  teardown(): Promise<void>;
}

let runtimeInstalled = false;
let queues = 0;

/** Starts the time-skipping test server (installing it first if missing) and builds the workflow bundle. */
export async function startTimeSkipping(): Promise<TimeSkipping> {
  if (!runtimeInstalled) {
    // Workflows failing on purpose are the point of some tests, and the test server lacks some of the
    // dev server's capabilities (core warns about each): keep the worker's log to errors.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
    runtimeInstalled = true;
  }
  const [path, codePath] = await Promise.all([ensureTemporalTestServer(), workflowBundlePath()]);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
  return {
    env,
    client: env.client,
    async withWorker(stubs, fn) {
      const taskQueue = `time-skipping-${process.pid}-${++queues}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        workflowBundle: { codePath },
        activities: stubs.activities,
      });
      return worker.runUntil(fn(taskQueue));
    },
    teardown: () => env.teardown(),
  };
}

/** Polls `check` (a query, say) until it returns true; time does not skip meanwhile (only a result wait unlocks it). */
export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A promise the test resolves when it chooses: an activity awaits it to hold the workflow at a step. */
export function gate(): { readonly opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** The innermost cause of a failure (a workflow's failure, its activity failure, the activity's ApplicationFailure). */
export function rootCause(error: unknown): Error | undefined {
  let current = error instanceof Error ? error : undefined;
  while (current?.cause instanceof Error) current = current.cause;
  return current;
}

/** Test options for this tier: a workflow stuck retrying a workflow task would otherwise hang the run. */
export const timeLimit = { timeout: 120_000 } as const;
