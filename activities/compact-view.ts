import { log } from '@temporalio/activity';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '../pipelines/future-event-time.ts';
import { NewestPerEntity } from '../pipelines/newest-per-entity.ts';
import { registeredView } from '../pipelines/registered-view.ts';
import { addRuns, writeSnapshotRuns, type SnapshotRuns } from '../pipelines/rebuild-runs.ts';
import { snapshotPrefix } from '../stores/offline/object-key.ts';
import type { ViewSnapshot } from '../stores/registry/view-snapshots.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';
import { withHeartbeat } from './heartbeat.ts';
import { partitionsFor, slicesFrom, type PlannedSnapshot, type RebuildSlice } from './plan-rebuild.ts';

export interface PlanCompactionInput extends ViewRef {
  /** Partitions of the snapshot; default: the newest snapshot's, or partitionsFor(rows committed). */
  readonly partitions?: number;
}

/** What a compaction does: the snapshot at `seq` from `base` (if any) and the slices of the commits after it. */
export interface CompactionPlan {
  /** The view version's latest commit: the new snapshot's seq (0: nothing committed). */
  readonly seq: number;
  readonly partitions: number;
  /** Runs' folder of the new snapshot (snapshotPrefix). */
  readonly prefix: string;
  /** The snapshot this one starts from (its partitions are `partitions`); absent: from the first commit. */
  readonly base?: PlannedSnapshot;
  readonly slices: readonly RebuildSlice[];
  /** Committed rows up to seq. */
  readonly rowsCommitted: number;
  /** True when a usable snapshot at `seq` with these partitions exists already (or nothing is committed): nothing to do. */
  readonly upToDate: boolean;
}

/**
 * Plans a compaction of a view version (workflows/compact-view-workflow.ts) up to its latest
 * commit, starting from the newest usable snapshot of the same partition count when there is one
 * (so only the commits after it are read).
 *
 * @example
 *   await planCompaction({ project: 'fraud', view: 'user_spend', version: 1 })
 *   // => { seq: 40, partitions: 8, prefix: 'fraud/_snapshots/user_spend/v1/seq40-of8/', base: { seq: 17, ... }, slices: [{ after: 17, upTo: 40, rows: 1_200_000 }], rowsCommitted: 3_200_000, upToDate: false }
 */
export function planCompaction(deps: ActivityDeps) {
  return async function planCompaction(input: PlanCompactionInput): Promise<CompactionPlan> {
    const registry = deps.registry(input.project);
    await registeredView(registry, input);
    const maxFutureSkewMs = deps.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
    const seq = await registry.latestCommitSeq(input.view, input.version);
    const latest = await registry.latestSnapshot(input.view, input.version, { upTo: seq, partitions: input.partitions, maxFutureSkewMs });
    // A view that outgrew the snapshot's partition count: a new snapshot from every commit, at the count it needs now.
    const { slices, rows, fromSnapshot } = await slicesFrom(registry, input.view, input.version, latest, seq, input.partitions !== undefined);
    const base = fromSnapshot ? latest : undefined;
    const rowsCommitted = (base?.rowsCommitted ?? 0) + rows;
    const partitions = input.partitions ?? base?.partitions ?? partitionsFor(rowsCommitted);
    const upToDate = seq === 0 || base?.seq === seq;
    return {
      seq,
      partitions,
      prefix: seq === 0 ? '' : snapshotPrefix(input.project, input.view, input.version, seq, partitions),
      ...(base ? { base: { seq: base.seq, prefix: base.prefix, runs: base.runs } } : {}),
      slices,
      rowsCommitted,
      upToDate,
    };
  };
}

export interface CompactPartitionInput extends ViewRef {
  /** The new snapshot's seq; the compaction's scatter runs are in the 'compact' scratch under it. */
  readonly seq: number;
  readonly prefix: string;
  readonly partition: number;
  readonly partitions: number;
  /** The partition's scatter runs per slice (scatterSlice's runs[partition] of each slice). */
  readonly runs: readonly number[];
  /** The base snapshot's runs of this partition, read first. */
  readonly base?: SnapshotRuns;
}

export interface CompactedPartition {
  readonly partition: number;
  /** Snapshot runs written for the partition. */
  readonly runs: number;
  readonly entities: number;
  readonly rowsRead: number;
}

/**
 * One partition of a compaction: the base snapshot's runs, then the slices' runs, reduced to the
 * newest row per entity exactly as the rebuild's build does (newest-per-entity.ts: the greatest
 * (event time, created time), an exact tie keeping the row read first, i.e. the earlier commit's),
 * written as the partition's snapshot runs. Deterministic keys and bytes: a retry (or a zombie
 * attempt) writes the same runs again.
 */
export function compactPartition(deps: ActivityDeps) {
  return async function compactPartition(input: CompactPartitionInput): Promise<CompactedPartition> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    let phase = 'reading';
    return withHeartbeat(
      async () => {
        const newest = new NewestPerEntity(view);
        await addRuns(deps.offline, { ...input, generation: input.seq, scratch: 'compact' }, input.runs, newest, input.base);
        phase = 'writing';
        const runs = await writeSnapshotRuns(deps.offline, input.prefix, input.partition, newest);
        if (input.partition > 0) failpoint('mid-compaction');
        log.info(`compaction of '${input.view}' v${input.version} at seq ${input.seq}, partition ${input.partition}/${input.partitions}: done, ${newest.entities} entities from ${newest.rowsRead} rows`);
        return { partition: input.partition, runs, entities: newest.entities, rowsRead: newest.rowsRead };
      },
      () => ({ phase }),
    );
  };
}

export interface RecordSnapshotInput extends ViewRef {
  readonly seq: number;
  readonly prefix: string;
  readonly partitions: number;
  readonly runs: readonly number[];
  readonly rowsCommitted: number;
  readonly entities: number;
}

/**
 * Records a compaction's snapshot once all its runs are written (idempotent), and marks the
 * older snapshots of the view version with its partition count superseded (a snapshot of another
 * count still serves rebuilds that ask for it) (offline GC collects their runs once the
 * grace period has passed, so a rebuild that planned with one can still read it).
 */
export function recordSnapshot(deps: ActivityDeps) {
  return async function recordSnapshot(input: RecordSnapshotInput): Promise<ViewSnapshot> {
    const registry = deps.registry(input.project);
    const snapshot = await registry.recordSnapshot({
      view: input.view,
      version: input.version,
      seq: input.seq,
      partitions: input.partitions,
      runs: input.runs,
      maxFutureSkewMs: deps.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
      rowsCommitted: input.rowsCommitted,
      entities: input.entities,
      prefix: input.prefix,
    });
    const superseded = await registry.invalidateSnapshots(input.view, input.version, `superseded by the snapshot at seq ${input.seq}`, {
      beforeSeq: input.seq,
      partitions: input.partitions,
    });
    log.info(`snapshot of '${input.view}' v${input.version} at seq ${input.seq}: ${input.entities} entities in ${input.partitions} partitions; ${superseded} older snapshot(s) superseded`);
    return snapshot;
  };
}
