import type { FeatureServiceSpec, FeatureViewSpec } from '../definitions/spec.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { ViewMigrationRecord } from '../stores/registry/view-migrations.ts';
import type { MigrationCheck } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { withHeartbeat } from './heartbeat.ts';
import { rowsOf } from '../pipelines/write-view-objects.ts';
import { migratedBatchId, migrationContext, migrationFailure, type MigrationRef } from './migration-context.ts';
import { onlineTarget } from '../pipelines/registered-view.ts';
import { verifyView } from '../pipelines/verify-view.ts';

/**
 * The small steps of a view migration (workflows/migrate-view-workflow.ts), each idempotent: the
 * backfill and the per-commit copy are in backfill-migration.ts and migrate-commit.ts.
 */
export interface MigrationStart {
  readonly state: ViewMigrationRecord['state'];
  /** Commits of the old version now (the progress bar's total). */
  readonly sourceCommits: number;
  readonly toOnline: boolean;
}

/**
 * Step 1: checks both versions and the declared migration (and that this worker can run its
 * transform), then records the migration as running. A declaration changed after the new
 * version already holds data is refused: its rows were made by the old declaration.
 */
export function beginMigration(deps: ActivityDeps) {
  return async function beginMigration(input: MigrationRef & { readonly workflowId: string }): Promise<MigrationStart> {
    const registry = deps.registry(input.project);
    const context = await migrationContext(deps, input);
    const [previous] = await registry.migrations({ view: input.view, from: input.from, to: input.to });
    if (previous && previous.state !== 'completed' && previous.specHash !== context.specHash && (await registry.latestCommitSeq(input.view, input.to)) > 0) {
      throw migrationFailure(
        `the migrateFrom declaration of feature view '${input.view}' version ${input.to} changed after its backfill started ` +
          `(version ${input.to} holds rows made with the earlier one): declare the fix as version ${input.to + 1} migrating from version ${input.from}`,
      );
    }
    const record = await registry.beginMigration({ view: input.view, from: input.from, to: input.to, specHash: context.specHash, workflowId: input.workflowId });
    const sourceCommits = (await registry.commits(input.view, input.from)).length;
    return { state: record.state, sourceCommits, toOnline: context.toView.online };
  };
}

/**
 * Step 4: the new version's online store against its offline store (verify-view.ts: zero
 * missing, stale or extra), and every old-version commit up to `upTo` present in the new
 * version with the same number of rows.
 */
export function verifyMigration(deps: ActivityDeps) {
  return async function verifyMigration(input: MigrationRef & { readonly upTo: number }): Promise<MigrationCheck> {
    const registry = deps.registry(input.project);
    const label = `feature view '${input.view}' version ${input.to}`;
    const copies = new Map((await registry.commits(input.view, input.to)).map((c) => [c.batchId, c]));
    let sourceRows = 0;
    let migratedRows = 0;
    const sources = await registry.commits(input.view, input.from, { upTo: input.upTo });
    for (const source of sources) {
      const copy = copies.get(migratedBatchId(input.from, source.batchId));
      if (!copy) throw migrationFailure(`${label} has no copy of commit ${source.seq} (batch '${source.batchId}') of version ${input.from}`);
      const rows = rowsOf(source.objects);
      if (rowsOf(copy.objects) !== rows) {
        throw migrationFailure(`${label}: commit ${copy.seq} holds ${rowsOf(copy.objects)} rows, its source commit ${source.seq} of version ${input.from} ${rows}`);
      }
      sourceRows += rows;
      migratedRows += rowsOf(copy.objects);
    }
    const spec = (await registry.getObject('featureView', input.view, input.to))?.spec as FeatureViewSpec | undefined;
    if (!spec?.online) return { sourceCommits: sources.length, sourceRows, migratedRows, entities: 0, matching: 0, expired: 0 };
    const report = await withHeartbeat(() =>
      verifyView(
        { registry, offline: deps.offline, online: deps.online },
        { project: input.project, view: input.view, version: input.to },
        deps.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: deps.maxFutureSkewMs },
      ),
    );
    if (!report.ok) {
      throw migrationFailure(
        `${label} online disagrees with its offline store (${report.missing} missing, ${report.stale} stale, ${report.extra} extra): ` +
          `it is not switched; examples: ${report.examples.slice(0, 3).join('; ')}`,
      );
    }
    return { sourceCommits: sources.length, sourceRows, migratedRows, entities: report.offlineEntities, matching: report.matching, expired: report.expired };
  };
}

export interface ServiceSwitch {
  /** Services that ask for the view without a version: they read the new version from now on. */
  readonly switched: readonly string[];
  /** Services pinned to the old version: they keep it. */
  readonly pinned: readonly string[];
}

/**
 * Steps 5 and 6: the unpinned feature services of the view move to the new version and the old
 * one is deprecated, in one registry transaction. Refused, before anything changes, when an
 * unpinned service names a feature the new version does not have (a rename): it must pin the
 * old version or name the new feature.
 */
export function switchServices(deps: ActivityDeps) {
  return async function switchServices(input: MigrationRef): Promise<ServiceSwitch> {
    const registry = deps.registry(input.project);
    const to = (await registry.getObject('featureView', input.view, input.to))?.spec as FeatureViewSpec | undefined;
    if (!to) throw migrationFailure(`feature view '${input.view}' version ${input.to} is not in the registry`);
    const uses = await serviceUses(registry, input);
    const features = new Set(to.features.map((f) => f.name));
    for (const { service, features: named } of uses.unpinned) {
      const missing = (named ?? []).filter((f) => !features.has(f));
      if (missing.length > 0) {
        throw migrationFailure(
          `feature service '${service}' asks for '${input.view}:${missing[0]}' without a version, and version ${input.to} has no feature '${missing[0]}' ` +
            `(it has: ${[...features].join(', ')}): pin it to the old version ('${input.view}@${input.from}:${missing[0]}') or name the new feature, apply, and migrate again`,
        );
      }
    }
    if (uses.unpinned.length > 0 && !to.online) {
      throw migrationFailure(`feature view '${input.view}' version ${input.to} is not online (online: false), but feature services ${uses.unpinned.map((u) => `'${u.service}'`).join(', ')} read it online`);
    }
    await registry.switchMigration(input.view, input.from, input.to);
    return { switched: [...new Set(uses.unpinned.map((u) => u.service))], pinned: uses.pinned };
  };
}

/** The feature services still pinned to the old version (the grace period waits for them). */
export function pinnedServices(deps: ActivityDeps) {
  return async function pinnedServices(input: MigrationRef): Promise<string[]> {
    return (await serviceUses(deps.registry(input.project), input)).pinned;
  };
}

/**
 * The end: the migration is recorded completed (from then on the old version takes no writes),
 * then every online generation of the old version is deleted from Redis. Its offline objects
 * and commits stay. Returns the keys deleted.
 */
export function removeOldOnlineKeys(deps: ActivityDeps) {
  return async function removeOldOnlineKeys(input: MigrationRef): Promise<number> {
    const registry = deps.registry(input.project);
    const object = await registry.getObject('featureView', input.view, input.from);
    const [record] = await registry.migrations({ view: input.view, from: input.from, to: input.to });
    if (record?.state !== 'completed') await registry.finishMigration(input.view, input.from, input.to, 'completed');
    if (!object || object.version !== input.from) return 0;
    const view = featureViewFromSpec(object.spec as FeatureViewSpec);
    const ref = { project: input.project, view: input.view, version: input.from };
    let dropped = 0;
    for (const g of await registry.generations(input.view, input.from)) {
      if (g.state === 'dropped') continue;
      dropped += await withHeartbeat(() => deps.online.dropGeneration(onlineTarget(ref, view, g.generation)));
    }
    return dropped;
  };
}

/** Records a failed migration with its message (the old version keeps serving). */
export function failMigration(deps: ActivityDeps) {
  return async function failMigration(input: MigrationRef & { readonly message: string }): Promise<void> {
    const [record] = await deps.registry(input.project).migrations({ view: input.view, from: input.from, to: input.to });
    if (record && record.state === 'running') await deps.registry(input.project).finishMigration(input.view, input.from, input.to, 'failed', input.message);
  };
}

/** Services back on the old version, in one transaction (migration-queries.ts rollbackMigration). */
export function rollBackMigration(deps: ActivityDeps) {
  return async function rollBackMigration(input: MigrationRef & { readonly reason?: string }): Promise<void> {
    await deps.registry(input.project).rollbackMigration(input.view, input.from, input.to, input.reason);
  };
}

interface ServiceUses {
  readonly unpinned: { service: string; features: readonly string[] | null }[];
  readonly pinned: string[];
}

async function serviceUses(registry: Registry, ref: MigrationRef): Promise<ServiceUses> {
  const unpinned: ServiceUses['unpinned'] = [];
  const pinned = new Set<string>();
  for (const object of await registry.listObjects('featureService')) {
    const spec = object.spec as FeatureServiceSpec;
    for (const item of spec.items) {
      if (item.view !== ref.view) continue;
      if (item.version === null) unpinned.push({ service: spec.name, features: item.features });
      else if (item.version === ref.from) pinned.add(spec.name);
    }
  }
  return { unpinned, pinned: [...pinned].sort() };
}
