import type { Table } from 'apache-arrow';
import { concatTables, migrateTable, MigrationRowError } from '../pipelines/migrate-table.ts';
import { objectKey } from '../stores/offline/object-key.ts';
import { rowsOf, writeViewObjects } from '../pipelines/write-view-objects.ts';
import type { Commit, CommitObject } from '../stores/registry/commit-log.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { migratedBatchId, migrationContext, migrationFailure, type MigrationContext, type MigrationRef } from './migration-context.ts';
import { withHeartbeat } from './heartbeat.ts';

/**
 * One old-version commit rewritten as a new-version commit: each of its objects read, migrated
 * (migrate-table.ts) and written at keys derived from (view, new version, event date, derived
 * batch id, the source object's ordinal), then committed with the derived batch id
 * (migratedBatchId). Same source, same transform: same bytes at the same keys, one commit;
 * so the backfill and ingestion's dual-write can both do it, in any order, any number of times.
 *
 * `resume` carries the objects an interrupted attempt already wrote (from its heartbeat).
 */
export interface CommitPosition {
  readonly seq: number;
  /** Source objects done. */
  readonly object: number;
  readonly written: readonly CommitObject[];
}

export interface MigratedCommit {
  readonly sourceSeq: number;
  readonly seq: number;
  readonly rows: number;
  /** False when the copy was committed before (by the dual-write, or an earlier attempt). */
  readonly created: boolean;
}

export async function migrateOneCommit(
  deps: ActivityDeps,
  context: MigrationContext,
  commit: Commit,
  resume: CommitPosition | undefined,
  onPosition: (position: CommitPosition) => void,
): Promise<MigratedCommit> {
  const registry = deps.registry(context.project);
  const batchId = migratedBatchId(context.from, commit.batchId);
  const existing = await registry.commitFor(context.view, context.to, batchId);
  if (existing) return { sourceSeq: commit.seq, seq: existing.seq, rows: rowsOf(existing.objects), created: false };

  const start = resume?.seq === commit.seq ? resume : { seq: commit.seq, object: 0, written: [] };
  const written: CommitObject[] = [...start.written].map((o) => ({ ...o, minEventTime: new Date(o.minEventTime), maxEventTime: new Date(o.maxEventTime) }));
  for (let i = start.object; i < commit.objects.length; i++) {
    const source = commit.objects[i]!;
    const tables: Table[] = [];
    let rowBase = 0;
    for await (const { table } of deps.offline.readTable(source.key)) {
      try {
        tables.push(migrateTable({ from: context.fromView, to: context.toView, mapping: context.mapping, transform: context.transform, table, objectKey: source.key, rowBase }));
      } catch (error) {
        if (error instanceof MigrationRowError) throw migrationFailure(`${error.message} (old-version commit ${commit.seq}, batch '${commit.batchId}')`);
        throw error;
      }
      rowBase += table.numRows;
    }
    if (tables.length > 0 && rowBase > 0) {
      const table = concatTables(tables);
      written.push(...(await writeViewObjects(deps.offline, context.toView, table, (eventDate) => objectKey({ project: context.project, view: context.view, version: context.to, eventDate, batchId, part: i }))));
    }
    onPosition({ seq: commit.seq, object: i + 1, written: [...written] });
  }
  const { commit: created, created: isNew } = await registry.commit({
    view: context.view,
    version: context.to,
    batchId,
    schemaVersion: context.toSchemaVersion,
    objects: written,
  });
  return { sourceSeq: commit.seq, seq: created.seq, rows: rowsOf(created.objects), created: isNew };
}

export interface MigrateCommitInput extends MigrationRef {
  /** The old-version commit. */
  readonly seq: number;
}

/** Ingestion's dual-write: one fresh old-version commit copied into the new version. */
export function migrateCommit(deps: ActivityDeps) {
  return async function migrateCommit(input: MigrateCommitInput): Promise<MigratedCommit & { online: boolean }> {
    const registry = deps.registry(input.project);
    const context = await migrationContext(deps, input);
    const [commit] = await registry.commits(input.view, input.from, { after: input.seq - 1, upTo: input.seq });
    if (!commit || commit.seq !== input.seq) throw migrationFailure(`commit ${input.seq} of feature view '${input.view}' version ${input.from} does not exist`);
    let position: CommitPosition | undefined;
    const done = await withHeartbeat(
      () => migrateOneCommit(deps, context, commit, undefined, (p) => (position = p)),
      () => position,
    );
    return { ...done, online: context.toView.online };
  };
}

/**
 * The later versions of a view that migrate from `version` and still exist: where ingestion
 * also writes each batch. (A version retired by a completed migration never gets here:
 * writeBatchObjects refused the batch before writing it.)
 */
export function migrationTargets(deps: ActivityDeps) {
  return async function migrationTargets(ref: { project: string; view: string; version: number }): Promise<number[]> {
    const versions = await deps.registry(ref.project).listObjects('featureView');
    return versions
      .filter((o) => o.name === ref.view && (o.spec as { migrateFrom?: { version: number } }).migrateFrom?.version === ref.version)
      .map((o) => o.version);
  };
}
