import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { DefinitionError } from '../definitions/definition-error.ts';
import { findView } from '../definitions/feature-repo.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { FeatureViewSpec } from '../definitions/spec.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import { migrationMapping, transformHash, type MigrationMapping, type MigrationRow } from '../definitions/view-migration.ts';
import { isBatchId } from '../stores/offline/object-key.ts';
import { contentHash } from '../definitions/changes/content-hash.ts';
import { retiredMessage, retiringMigration } from '../stores/registry/retiring-migration.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { failureTypes } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';

/**
 * What every migration activity needs about one (view, from, to): both versions as applied, the
 * checked column mapping, and the transform function when one is declared (from the worker's
 * feature repo, whose function must hash like the applied one). Every problem here is
 * non-retryable and named.
 */
export interface MigrationRef {
  readonly project: string;
  readonly view: string;
  readonly from: number;
  readonly to: number;
}

export interface MigrationContext extends MigrationRef {
  readonly fromView: FeatureView;
  readonly toView: FeatureView;
  readonly toSpec: FeatureViewSpec;
  readonly toSchemaVersion: number;
  readonly mapping: MigrationMapping;
  readonly transform: ((row: MigrationRow) => MigrationRow) | null;
  /** Content hash of the declared migration (renames, casts, transform hash). */
  readonly specHash: string;
}

export function migrationFailure(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, failureTypes.migrationFailed);
}

export async function migrationContext(deps: ActivityDeps, ref: MigrationRef): Promise<MigrationContext> {
  const registry = deps.registry(ref.project);
  const toObject = await registry.getObject('featureView', ref.view, ref.to);
  const fromObject = await registry.getObject('featureView', ref.view, ref.from);
  const which = (v: number) => `feature view '${ref.view}' version ${v}`;
  if (!toObject || toObject.version !== ref.to || toObject.status === 'removed') {
    throw migrationFailure(`${which(ref.to)} is not in the registry of project '${ref.project}': define it with migrateFrom: { version: ${ref.from} } and run granary apply`);
  }
  // The old version may have left the repo: its committed objects are still there to read.
  if (!fromObject || fromObject.version !== ref.from) {
    throw migrationFailure(`${which(ref.from)} was never registered in project '${ref.project}': there is nothing to migrate from`);
  }
  const toSpec = toObject.spec;
  if (toSpec.migrateFrom?.version !== ref.from) {
    const declared = toSpec.migrateFrom ? `migrates from version ${toSpec.migrateFrom.version}` : 'declares no migrateFrom';
    throw migrationFailure(`${which(ref.to)} ${declared}, not from version ${ref.from}`);
  }
  let mapping: MigrationMapping;
  try {
    mapping = migrationMapping(fromObject.spec, toSpec);
  } catch (error) {
    if (error instanceof DefinitionError) throw migrationFailure(`${error.message} (as applied in the registry)`);
    throw error;
  }
  return {
    ...ref,
    fromView: featureViewFromSpec(fromObject.spec),
    toView: featureViewFromSpec(toSpec),
    toSpec,
    toSchemaVersion: toObject.schemaVersion,
    mapping,
    transform: toSpec.migrateFrom.transform ? await loadTransform(deps, ref, toSpec.migrateFrom.transform) : null,
    specHash: contentHash(toSpec.migrateFrom),
  };
}

/** The TypeScript transform, from the worker's feature repo; its source must hash like the applied one. */
async function loadTransform(deps: ActivityDeps, ref: MigrationRef, applied: string): Promise<(row: MigrationRow) => MigrationRow> {
  const what = `feature view '${ref.view}' version ${ref.to} declares a TypeScript transform (migrateFrom.transform)`;
  if (!deps.featureRepo) {
    throw ApplicationFailure.nonRetryable(
      `${what}, which only a worker started with the feature repo can run; this worker has none: start it with granary worker --repo <feature repo dir>`,
      failureTypes.transformUnavailable,
    );
  }
  let view: FeatureView | undefined;
  try {
    view = findView(await deps.featureRepo.load(), ref.view, ref.to);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`${what}; this worker's feature repo '${deps.featureRepo.dir}' failed to load: ${(error as Error).message}`, failureTypes.transformUnavailable);
  }
  const transform = view?.version === ref.to ? view.migrateFrom?.transform : undefined;
  if (!transform) {
    throw ApplicationFailure.nonRetryable(`${what}; this worker's feature repo '${deps.featureRepo.dir}' has no such transform: start the worker with the repo that was applied`, failureTypes.transformUnavailable);
  }
  if (transformHash(transform) !== applied) {
    throw ApplicationFailure.nonRetryable(
      `${what}; the one in this worker's feature repo '${deps.featureRepo.dir}' differs from the one applied (${applied}): apply the repo, or start the worker with the applied one`,
      failureTypes.transformUnavailable,
    );
  }
  return transform;
}

/**
 * The batch id of the new version's copy of an old-version batch: derived from it, so the
 * backfill and the dual-write of ingestion commit the same batch once (the commit is idempotent
 * on (view, version, batch id)) and a retry finds what an earlier attempt committed.
 *
 * @example
 *   migratedBatchId(1, 'b-42') // => 'from-v1-b-42'
 */
export function migratedBatchId(from: number, batchId: string): string {
  const id = `from-v${from}-${batchId}`;
  return isBatchId(id) ? id : `from-v${from}-sha-${createHash('sha256').update(batchId).digest('hex').slice(0, 32)}`;
}

/** Refuses writes to a version that a completed migration retired (its online keys are gone). */
export async function checkNotRetired(registry: Registry, ref: { project: string; view: string; version: number }): Promise<void> {
  const retired = await retiringMigration(registry, ref.view, ref.version);
  if (retired) throw ApplicationFailure.nonRetryable(retiredMessage(ref.view, ref.version, retired), failureTypes.versionRetired);
}
