import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { FeatureViewSpec } from '../definitions/spec.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { ViewMigrationRecord } from '../stores/registry/view-migrations.ts';
import {
  migrationProgressQuery,
  rollbackMigrationSignal,
  startingMigrationProgress,
  workflowIds,
  type MigrateViewInput,
  type MigrationProgress,
  type MigrationState,
} from '../workflows/contracts.ts';
import type { migrateViewWorkflow } from '../workflows/migrate-view-workflow.ts';
import { migrateStart, workflowTypes } from '../workflows/starters.ts';

/** How a migration is started and followed. */
export interface MigrateOptions {
  /** The version to migrate to; default: the highest version of the view declared with migrateFrom and not yet completed. */
  readonly to?: number;
  /** Seconds between the switch and removing the old version's online keys (default one day). */
  readonly graceSeconds?: number;
  readonly commitsPerActivity?: number;
  /**
   * false (default): return once started; 'switched': until services read the new version (or
   * it failed or was rolled back); 'done': until the workflow ends, after the grace period.
   */
  readonly wait?: false | 'switched' | 'done';
  /** Called with the progress about twice a second while waiting. */
  readonly onProgress?: (progress: MigrationProgress) => void;
}

export interface MigrationHandle {
  readonly workflowId: string;
  /** The run: a second start while one runs gets the same run id (it attached). */
  readonly runId?: string;
  readonly progress: MigrationProgress;
}

/** States in which the services already read the new version, or never will in this run. */
const SWITCHED_OR_OVER: readonly MigrationState[] = ['grace', 'waiting-for-pinned-services', 'removing-old-keys', 'completed', 'rolled-back', 'failed'];

/**
 * Starting, following and rolling back view migrations (workflows/migrate-view-workflow.ts).
 *
 * @example
 *   await startMigration(client, 'granary', registry, 'user_spend', { wait: 'switched' })
 *   // => { workflowId: 'migrate-view/fraud/user_spend/v1-to-v2', progress: { state: 'grace', switchedServices: [...], ... } }
 */
export async function startMigration(client: Client, taskQueue: string, registry: Registry, view: string, options: MigrateOptions = {}): Promise<MigrationHandle> {
  const { from, to } = await migrationVersions(registry, view, options.to);
  const input: MigrateViewInput = {
    project: registry.project,
    view,
    from,
    to,
    ...(options.graceSeconds === undefined ? {} : { graceSeconds: options.graceSeconds }),
    ...(options.commitsPerActivity === undefined ? {} : { commitsPerActivity: options.commitsPerActivity }),
  };
  const workflowId = workflowIds.migrate(input);
  // A completed migration has nothing left to do (its old online keys are gone): say so from the
  // registry rather than start a run that would only find that out (and would need a worker).
  const done = (await registry.migrations({ view })).find((m) => m.from === from && m.to === to && m.state === 'completed');
  if (done) {
    const message = `completed at ${(done.finishedAt ?? done.updatedAt).toISOString()}: v${to} serves, v${from}'s online keys were removed; nothing to do`;
    return { workflowId, progress: { ...startingMigrationProgress(input, done.startedAt.getTime()), state: 'completed', message } };
  }
  // A second start (CI re-running the job) attaches to the running one; a finished one may run again (it resumes from what exists).
  const handle = await client.workflow.start<typeof migrateViewWorkflow>(workflowTypes.migrate, migrateStart(input, taskQueue));
  const runId = handle.firstExecutionRunId;
  if (!options.wait) return { workflowId, runId, progress: await queryProgress(handle, input) };
  return { workflowId, runId, progress: await follow(handle, input, options.wait, options.onProgress) };
}

/** Follows a running migration (by its versions) until it switched, or until it ends. */
export async function followMigration(
  client: Client,
  registry: Registry,
  view: string,
  options: Pick<MigrateOptions, 'to' | 'onProgress'> & { readonly wait: 'switched' | 'done' },
): Promise<MigrationHandle> {
  const { from, to } = await migrationVersions(registry, view, options.to);
  const workflowId = workflowIds.migrate({ project: registry.project, view, from, to });
  const handle = client.workflow.getHandle<typeof migrateViewWorkflow>(workflowId);
  return { workflowId, progress: await follow(handle, { view, from, to }, options.wait, options.onProgress) };
}

/**
 * Returns the services of the view to the old version: signals the running migration (which
 * flips the versions back at its next step and ends 'rolled-back'), or, when none runs, flips
 * them in the registry. Refused once the migration completed (the old online keys are gone) or
 * the old version was removed.
 */
export async function rollbackMigration(client: Client, registry: Registry, view: string, options: { to?: number; reason?: string } = {}): Promise<ViewMigrationRecord> {
  const candidates = (await registry.migrations({ view })).filter((m) => options.to === undefined || m.to === options.to);
  const migration = candidates.filter((m) => m.state !== 'rolled-back').at(-1) ?? candidates.at(-1);
  if (!migration) throw new Error(`feature view '${view}' has no migration${options.to === undefined ? '' : ` to version ${options.to}`} in project '${registry.project}' to roll back`);
  if (migration.state === 'rolled-back') return migration;
  const handle = client.workflow.getHandle<typeof migrateViewWorkflow>(migration.workflowId);
  const running = await handle.describe().then((d) => d.status.name === 'RUNNING', () => false);
  if (running) {
    await handle.signal(rollbackMigrationSignal, options.reason);
    try {
      await handle.result();
    } catch (error) {
      throw new Error(failureText(error));
    }
    const [after] = await registry.migrations({ view, from: migration.from, to: migration.to });
    return after!;
  }
  return registry.rollbackMigration(view, migration.from, migration.to, options.reason);
}

/** The (from, to) of a migration of the view: `to` given or the newest declared one still to complete. */
export async function migrationVersions(registry: Registry, view: string, to?: number): Promise<{ from: number; to: number }> {
  const versions = (await registry.listObjects('featureView')).filter((o) => o.name === view);
  if (versions.length === 0) throw new Error(`feature view '${view}' is not applied in project '${registry.project}' (run granary apply)`);
  const declared = versions.filter((o) => (o.spec as FeatureViewSpec).migrateFrom);
  let target = to === undefined ? undefined : versions.find((o) => o.version === to);
  if (to !== undefined && !target) {
    throw new Error(`feature view '${view}' has no version ${to} in project '${registry.project}' (it has: ${versions.map((o) => o.version).join(', ')}; run granary apply)`);
  }
  if (target === undefined) {
    const completed = new Set((await registry.migrations({ view })).filter((m) => m.state === 'completed').map((m) => m.to));
    target = declared.filter((o) => !completed.has(o.version)).at(-1) ?? declared.at(-1);
  }
  const migrateFrom = (target?.spec as FeatureViewSpec | undefined)?.migrateFrom;
  if (!target || !migrateFrom) {
    throw new Error(
      `feature view '${view}'${target ? ` version ${target.version}` : ''} declares no migration: define the new version with ` +
        `migrateFrom: { version: <old version>, rename, cast, transform } beside the old one, run granary apply, then migrate`,
    );
  }
  return { from: migrateFrom.version, to: target.version };
}

async function follow(
  handle: WorkflowHandle<typeof migrateViewWorkflow>,
  input: Pick<MigrateViewInput, 'view' | 'from' | 'to'>,
  wait: 'switched' | 'done',
  onProgress: ((p: MigrationProgress) => void) | undefined,
): Promise<MigrationProgress> {
  for (;;) {
    const status = await handle.describe().then((d) => d.status.name);
    const progress = await queryProgress(handle, input);
    // 'failed': the workflow is recording the failure; its result says why.
    if (status !== 'RUNNING' || progress.state === 'failed') {
      try {
        const result = await handle.result();
        onProgress?.(result);
        return result;
      } catch (error) {
        throw new Error(failureText(error));
      }
    }
    onProgress?.(progress);
    if (wait === 'switched' && SWITCHED_OR_OVER.includes(progress.state)) return progress;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function queryProgress(handle: WorkflowHandle<typeof migrateViewWorkflow>, input: Pick<MigrateViewInput, 'view' | 'from' | 'to'>): Promise<MigrationProgress> {
  return handle.query(migrationProgressQuery).catch(() => startingMigrationProgress(input, Date.now()));
}

/** The innermost message of a workflow failure: what the failing step said. */
function failureText(error: unknown): string {
  if (!(error instanceof WorkflowFailedError)) return (error as Error).message ?? String(error);
  let cause: unknown = error.cause;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : error.message;
}
