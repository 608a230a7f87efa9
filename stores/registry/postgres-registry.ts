import type { FeatureRepo } from '../../definitions/feature-repo.ts';
import { applyChanges } from './apply-changes.ts';
import { currentVersionFirst } from '../../definitions/changes/current-version.ts';
import { beginMigration, finishMigration, rollbackMigration, selectMigrations, switchMigration } from './migration-queries.ts';
import { findCommit, insertCommit, selectCommits, selectLatestSeq, selectNewestEventTime } from './commit-log-queries.ts';
import { selectHistory, selectObjects } from './object-queries.ts';
import { activateGenerationTx } from './cut-over-queries.ts';
import { markDropped, selectActiveGeneration, selectBuildingGeneration, selectGenerations } from './generation-queries.ts';
import { advanceWatermarkTo, selectWatermark } from './watermark-queries.ts';
import { planChanges } from '../../definitions/changes/plan-changes.ts';
import { insertProjectHome, selectProjectHome } from './project-home-queries.ts';
import { PostgresPool } from './postgres-pool.ts';
import type { Registry } from './registry.ts';
import type { ViewMigrationRecord } from './view-migrations.ts';
import type { OfflineHome } from './project-home.ts';
import type { Generation } from './generations.ts';
import type { Commit, CommitRange, NewCommit } from './commit-log.ts';
import type { Plan } from '../../definitions/changes/plan.ts';
import type { RegisteredObject } from './definition-registry.ts';
import type { ObjectKind } from '../../definitions/spec.ts';
import { migrateSchema } from './schema-migrations.ts';
import { insertSnapshot, markSnapshotsInvalid, selectLatestSnapshot, selectSnapshots } from './view-snapshot-queries.ts';
import type { NewViewSnapshot, ViewSnapshot } from './view-snapshots.ts';
import { withTransaction } from './with-transaction.ts';

/** Where the registry's PostgreSQL is, and for which project. */
export interface PostgresRegistryOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  readonly project: string;
  /** Connections in the pool; defaults to 4. */
  readonly maxConnections?: number;
}

/**
 * The registry in PostgreSQL: one pool per instance, every row keyed by project. Call
 * `migrate()` once before use and `close()` at the end (the pool keeps the process alive).
 *
 * @example
 *   const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
 *   await registry.migrate();
 *   const plan = await registry.apply(await loadFeatureRepo('definitions/examples/fraud'));
 *   await registry.close();
 */
export class PostgresRegistry extends PostgresPool implements Registry {
  readonly project: string;

  constructor(options: PostgresRegistryOptions) {
    super(options.url, { maxConnections: options.maxConnections ?? 4, applicationName: 'granary' });
    this.project = options.project;
  }

  async migrate(): Promise<void> {
    await this.run(() => migrateSchema(this.pool));
  }

  async plan(repo: FeatureRepo): Promise<Plan> {
    const registered = await this.run(() => selectObjects(this.pool, this.project, { includeRemoved: true }));
    return planChanges(this.project, registered, repo);
  }

  async apply(repo: FeatureRepo): Promise<Plan> {
    return this.run(() => withTransaction(this.pool, (client) => applyChanges(client, this.project, repo)));
  }

  async listObjects(kind?: ObjectKind, options: { readonly includeRemoved?: boolean } = {}): Promise<RegisteredObject[]> {
    return this.run(() => selectObjects(this.pool, this.project, { kind, includeRemoved: options.includeRemoved }));
  }

  async getObject<K extends ObjectKind>(kind: K, name: string, version?: number): Promise<RegisteredObject<K> | undefined> {
    const found = await this.run(() => selectObjects(this.pool, this.project, { kind, name, version, includeRemoved: true }));
    return [...found].sort(currentVersionFirst)[0] as RegisteredObject<K> | undefined;
  }

  async history(kind: ObjectKind, name: string): Promise<RegisteredObject[]> {
    return this.run(() => selectHistory(this.pool, this.project, kind, name));
  }

  async commit(input: NewCommit): Promise<{ commit: Commit; created: boolean }> {
    return this.run(() => insertCommit(this.pool, this.project, input));
  }

  async commitFor(view: string, version: number, batchId: string): Promise<Commit | undefined> {
    return this.run(() => findCommit(this.pool, this.project, view, version, batchId));
  }

  async commits(view: string, version: number, range?: CommitRange): Promise<Commit[]> {
    return this.run(() => selectCommits(this.pool, this.project, view, version, range));
  }

  async latestCommitSeq(view: string, version: number): Promise<number> {
    return this.run(() => selectLatestSeq(this.pool, this.project, view, version));
  }

  async recordSnapshot(snapshot: NewViewSnapshot): Promise<ViewSnapshot> {
    return this.run(() => insertSnapshot(this.pool, this.project, snapshot));
  }

  async latestSnapshot(view: string, version: number, options: { upTo?: number; partitions?: number; maxFutureSkewMs: number }): Promise<ViewSnapshot | undefined> {
    return this.run(() => selectLatestSnapshot(this.pool, this.project, view, version, options));
  }

  async snapshots(options: { invalidatedSince?: Date } = {}): Promise<ViewSnapshot[]> {
    return this.run(() => selectSnapshots(this.pool, this.project, options.invalidatedSince));
  }

  async invalidateSnapshots(view: string, version: number, because: string, range?: { fromSeq?: number; beforeSeq?: number; partitions?: number }): Promise<number> {
    return this.run(() => markSnapshotsInvalid(this.pool, this.project, view, version, because, range));
  }

  async watermark(view: string, version: number, generation: number): Promise<number> {
    return this.run(() => selectWatermark(this.pool, this.project, view, version, generation));
  }

  async advanceWatermark(view: string, version: number, generation: number, seq: number): Promise<number> {
    return this.run(() => advanceWatermarkTo(this.pool, this.project, view, version, generation, seq));
  }

  async activeGeneration(view: string, version: number): Promise<Generation> {
    return this.run(() => selectActiveGeneration(this.pool, this.project, view, version));
  }

  async generations(view: string, version: number): Promise<Generation[]> {
    return this.run(() => selectGenerations(this.pool, this.project, view, version));
  }

  async newestEventTime(view: string, version: number, upTo: number): Promise<Date | undefined> {
    return this.run(() => selectNewestEventTime(this.pool, this.project, view, version, upTo));
  }

  async buildingGeneration(view: string, version: number): Promise<Generation> {
    return this.run(() => selectBuildingGeneration(this.pool, this.project, view, version));
  }

  async activateGeneration(view: string, version: number, generation: number): Promise<Generation> {
    return this.run(() => activateGenerationTx(this.pool, this.project, view, version, generation));
  }

  async markGenerationDropped(view: string, version: number, generation: number): Promise<void> {
    return this.run(() => markDropped(this.pool, this.project, view, version, generation));
  }

  async beginMigration(input: { view: string; from: number; to: number; specHash: string; workflowId: string }): Promise<ViewMigrationRecord> {
    return this.run(() => beginMigration(this.pool, this.project, input));
  }

  async migrations(filter: { view?: string; from?: number; to?: number } = {}): Promise<ViewMigrationRecord[]> {
    return this.run(() => selectMigrations(this.pool, this.project, filter));
  }

  async switchMigration(view: string, from: number, to: number): Promise<ViewMigrationRecord> {
    return this.run(() => switchMigration(this.pool, this.project, view, from, to));
  }

  async rollbackMigration(view: string, from: number, to: number, message?: string): Promise<ViewMigrationRecord> {
    return this.run(() => rollbackMigration(this.pool, this.project, view, from, to, message ?? null));
  }

  async finishMigration(view: string, from: number, to: number, state: 'completed' | 'failed', message?: string): Promise<ViewMigrationRecord> {
    return this.run(() => finishMigration(this.pool, this.project, view, from, to, state, message ?? null));
  }

  async offlineHome(): Promise<OfflineHome | undefined> {
    return this.run(() => selectProjectHome(this.pool, this.project));
  }

  async recordOfflineHome(home: OfflineHome): Promise<{ home: OfflineHome; recorded: boolean }> {
    return this.run(() => insertProjectHome(this.pool, this.project, home));
  }

  /** Ends the pool; safe to call more than once. */
}
