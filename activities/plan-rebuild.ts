import type { ViewRef } from '../workflows/contracts.ts';
import { log } from '@temporalio/activity';
import { rebuildRunsPrefix, snapshotRunKey, type RunScratch } from '../stores/offline/object-key.ts';
import type { ViewSnapshot } from '../stores/registry/view-snapshots.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { registeredView } from '../pipelines/registered-view.ts';
import { withHeartbeat } from './heartbeat.ts';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '../pipelines/future-event-time.ts';
import type { Registry } from '../stores/registry/registry.ts';

export interface PlanRebuildInput extends ViewRef {
  readonly generation: number;
  /** The build covers the commits up to this seq (beginRebuild's upTo). */
  readonly upTo: number;
  /**
   * Read the newest usable snapshot (view-snapshots.ts) with seq <= upTo, of `partitions`
   * partitions when given, and slice only the commits after it. Asked only by workflow code that
   * passes the plan's snapshot on to its partitions (patched 'snapshot-rebuild').
   */
  readonly snapshots?: boolean;
  /** The partitions the caller asked for (a snapshot is used only if it has as many). */
  readonly partitions?: number;
}

/** The snapshot a plan starts from: its seq, its runs' folder and each partition's run count. */
export interface PlannedSnapshot {
  readonly seq: number;
  readonly prefix: string;
  readonly runs: readonly number[];
}

/** A run of consecutive commits, (after, upTo], that one scatterSlice activity reads. */
export interface RebuildSlice {
  readonly after: number;
  readonly upTo: number;
  readonly rows: number;
}

export interface RebuildPlan {
  readonly slices: readonly RebuildSlice[];
  /** Committed rows up to upTo: each is read once, by the slice holding it. */
  readonly rowsCommitted: number;
  /**
   * Entity-hash partitions for this much data when the caller asked for none: at least
   * MIN_PARTITIONS, and enough that a partition's runs hold about PARTITION_ROWS rows at most, so
   * a worker's memory stays the same whatever the view's size. (Absent in results of older code.)
   */
  readonly partitions?: number;
  /** The snapshot the partitions read before the slices (its partition count is `partitions`); absent without one. */
  readonly snapshot?: PlannedSnapshot;
}

/**
 * Committed rows per slice, about: a slice's scatter holds its rows' Arrow buffers and one map
 * entry per entity, so this bounds a worker's memory whatever the view's size (a commit larger
 * than this is a slice of its own).
 */
export const SLICE_ROWS = 2_000_000;
const COMMITS_PER_PAGE = 500;
/** Rows of a partition's runs, about, at most (a build or verify holds them): see RebuildPlan.partitions. */
export const PARTITION_ROWS = 1_250_000;
export const MIN_PARTITIONS = 8;
const MAX_PARTITIONS = 4096;

/** The partitions RebuildPlan.partitions suggests for this many committed rows. */
export function partitionsFor(rowsCommitted: number): number {
  return Math.min(MAX_PARTITIONS, Math.max(MIN_PARTITIONS, Math.ceil(rowsCommitted / PARTITION_ROWS)));
}

/**
 * Whether a snapshot's partition count still bounds a partition's rows when its entities are read
 * with the rows committed since (at most about PARTITION_ROWS each, as partitionsFor sizes them; a
 * count asked below MIN_PARTITIONS is kept while it holds them): a
 * compaction or a rebuild that starts from it keeps a worker's memory bounded by a partition. One
 * made when the view was smaller fails this once the view has grown; the caller then reads every
 * commit at the count partitionsFor gives (a compaction starts a new snapshot at it).
 *
 * @example
 *   keepsPartitionSize({ partitions: 8, entities: 2_000_000 }, 1_000_000) // => true (3M rows: 3 partitions would do)
 *   keepsPartitionSize({ partitions: 8, entities: 9_000_000 }, 2_000_000) // => false (11M rows need 9)
 */
export function keepsPartitionSize(snapshot: { readonly partitions: number; readonly entities: number }, rowsSince: number): boolean {
  return Math.min(MAX_PARTITIONS, Math.ceil((snapshot.entities + rowsSince) / PARTITION_ROWS)) <= snapshot.partitions;
}

/**
 * Cuts the commits a rebuild covers into slices of about SLICE_ROWS committed rows, from the
 * registry's row counts alone (nothing is read): the read-once build scatters each slice once.
 *
 * @example
 *   await planRebuild({ project: 'fraud', view: 'user_spend', version: 1, generation: 2, upTo: 40 })
 *   // => { slices: [{ after: 0, upTo: 17, rows: 2_000_000 }, { after: 17, upTo: 40, rows: 1_200_000 }], rowsCommitted: 3_200_000 }
 */
export function planRebuild(deps: ActivityDeps) {
  return async function planRebuild(input: PlanRebuildInput): Promise<RebuildPlan> {
    const registry = deps.registry(input.project);
    if (input.snapshots) {
      const snapshot = await readableSnapshot(deps, input);
      if (snapshot) {
        const { slices, rows, fromSnapshot } = await slicesFrom(registry, input.view, input.version, snapshot, input.upTo, input.partitions !== undefined);
        if (fromSnapshot) {
          return {
            slices,
            rowsCommitted: snapshot.rowsCommitted + rows,
            partitions: snapshot.partitions,
            snapshot: { seq: snapshot.seq, prefix: snapshot.prefix, runs: snapshot.runs },
          };
        }
        // Outgrown: every commit, at the count the view needs.
        return { slices, rowsCommitted: rows, partitions: partitionsFor(rows) };
      }
    }
    const { slices, rows } = await sliceCommits(registry, input.view, input.version, 0, input.upTo);
    return { slices, rowsCommitted: rows, partitions: partitionsFor(rows) };
  };
}

/**
 * The newest usable snapshot for the plan whose runs are all in the offline store. One with a run
 * missing (removed by hand, or by a bucket lifecycle rule: offline GC keeps them) is marked
 * unusable in the registry, and the next older one is tried: a rebuild never plans with runs it
 * cannot read.
 */
async function readableSnapshot(deps: ActivityDeps, input: PlanRebuildInput): Promise<ViewSnapshot | undefined> {
  const registry = deps.registry(input.project);
  const maxFutureSkewMs = deps.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  for (;;) {
    const snapshot = await registry.latestSnapshot(input.view, input.version, { upTo: input.upTo, partitions: input.partitions, maxFutureSkewMs });
    if (!snapshot) return undefined;
    const keys = snapshot.runs.flatMap((count, partition) => Array.from({ length: count }, (_, run) => snapshotRunKey(snapshot.prefix, partition, run)));
    let missing: string | undefined;
    for (let i = 0; i < keys.length && missing === undefined; i += 32) {
      const batch = keys.slice(i, i + 32);
      const found = await Promise.all(batch.map((key) => deps.offline.exists(key)));
      missing = batch.find((_, j) => !found[j]);
    }
    if (missing === undefined) return snapshot;
    const because = `its run ${missing} is missing from the offline store`;
    log.warn(`snapshot of '${input.view}' v${input.version} at seq ${snapshot.seq} (${snapshot.partitions} partitions) is not used and marked unusable: ${because}`);
    await registry.invalidateSnapshots(input.view, input.version, because, { fromSeq: snapshot.seq, beforeSeq: snapshot.seq + 1, partitions: snapshot.partitions });
  }
}

/** A commit as slicing sees it: its seq and its rows. */
export interface CommitRows {
  readonly seq: number;
  readonly rows: number;
}

/** The commits of a view version in (after, upTo], in seq order, with their rows (read by pages). */
async function commitRows(registry: Pick<Registry, 'commits'>, view: string, version: number, after: number, upTo: number): Promise<CommitRows[]> {
  const out: CommitRows[] = [];
  await eachCommitRows(registry, view, version, after, upTo, (commit) => void out.push(commit));
  return out;
}

async function eachCommitRows(
  registry: Pick<Registry, 'commits'>,
  view: string,
  version: number,
  after: number,
  upTo: number,
  take: (commit: CommitRows) => void,
): Promise<void> {
  for (let from = after; ; ) {
    const commits = await registry.commits(view, version, { after: from, upTo, limit: COMMITS_PER_PAGE });
    if (commits.length === 0) return;
    for (const commit of commits) take({ seq: commit.seq, rows: commit.objects.reduce((n, o) => n + o.rowCount, 0) });
    from = commits.at(-1)!.seq;
  }
}

/**
 * Commits (in seq order, all after `from`) cut into slices of about SLICE_ROWS rows: the first
 * starts at `from`, each next one at the last commit of the one before (a commit larger than
 * SLICE_ROWS is a slice of its own).
 *
 * @example
 *   sliceCommitRows(0, [{ seq: 3, rows: 1_500_000 }, { seq: 5, rows: 400_000 }, { seq: 9, rows: 700_000 }])
 *   // => { slices: [{ after: 0, upTo: 5, rows: 1_900_000 }, { after: 5, upTo: 9, rows: 700_000 }], rows: 2_600_000 }
 */
export function sliceCommitRows(from: number, commits: readonly CommitRows[]): { slices: RebuildSlice[]; rows: number } {
  const slicer = new CommitSlicer(from);
  for (const commit of commits) slicer.add(commit);
  return { slices: slicer.slices, rows: slicer.rows };
}

/** sliceCommitRows one commit at a time, so that sliceCommits holds no list of the commits it reads. */
class CommitSlicer {
  readonly slices: RebuildSlice[] = [];
  rows = 0;
  private after: number;

  constructor(from: number) {
    this.after = from;
  }

  add(commit: CommitRows): void {
    this.rows += commit.rows;
    const last = this.slices.at(-1);
    if (last && last.rows + commit.rows <= SLICE_ROWS) this.slices[this.slices.length - 1] = { after: last.after, upTo: commit.seq, rows: last.rows + commit.rows };
    else this.slices.push({ after: this.after, upTo: commit.seq, rows: commit.rows });
    this.after = commit.seq;
  }
}

/** The commits of a view version in (after, upTo] cut into slices of about SLICE_ROWS rows, and their rows. */
export async function sliceCommits(
  registry: Pick<Registry, 'commits'>,
  view: string,
  version: number,
  from: number,
  upTo: number,
): Promise<{ slices: RebuildSlice[]; rows: number }> {
  const slicer = new CommitSlicer(from);
  await eachCommitRows(registry, view, version, from, upTo, (commit) => slicer.add(commit));
  return { slices: slicer.slices, rows: slicer.rows };
}

/**
 * The slices of a plan from `snapshot` (none: from seq 0): the commits in (snapshot.seq, upTo],
 * `fromSnapshot` true. A snapshot too far behind for its partition count (no count asked, and
 * keepsPartitionSize false) would make partitions hold more than a partition's rows: then it is
 * not used, and every commit up to `upTo` is sliced from 0, reading only those up to the snapshot
 * again (each commit read once). What planRebuild and planCompaction decide alike.
 */
export async function slicesFrom(
  registry: Pick<Registry, 'commits'>,
  view: string,
  version: number,
  snapshot: { readonly seq: number; readonly partitions: number; readonly entities: number } | undefined,
  upTo: number,
  partitionsAsked: boolean,
): Promise<{ slices: RebuildSlice[]; rows: number; fromSnapshot: boolean }> {
  const since = await commitRows(registry, view, version, snapshot?.seq ?? 0, upTo);
  const { slices, rows } = sliceCommitRows(snapshot?.seq ?? 0, since);
  if (!snapshot || partitionsAsked || keepsPartitionSize(snapshot, rows)) return { slices, rows, fromSnapshot: snapshot !== undefined };
  return { ...sliceCommitRows(0, [...(await commitRows(registry, view, version, 0, snapshot.seq)), ...since]), fromSnapshot: false };
}

/** A partitioned verify's plan: the generation serving reads, its watermark, and the slices of the commits up to it. */
export interface VerifyPlan extends RebuildPlan {
  readonly generation: number;
  readonly upTo: number;
}

/**
 * The start of a partitioned verify (workflows/verify-online-workflow.ts) of the active
 * generation: its watermark, and the commits up to it cut into slices as planRebuild does (each
 * then scattered once into per-partition runs in the verify's scratch).
 *
 * @example
 *   await planVerify({ project: 'fraud', view: 'user_spend', version: 1 })
 *   // => { generation: 1, upTo: 40, slices: [{ after: 0, upTo: 40, rows: 1_200_000 }], rowsCommitted: 1_200_000 }
 */
export function planVerify(deps: ActivityDeps) {
  const plan = planRebuild(deps);
  return async function planVerify(input: ViewRef): Promise<VerifyPlan> {
    const registry = deps.registry(input.project);
    await registeredView(registry, input);
    const { generation } = await registry.activeGeneration(input.view, input.version);
    const upTo = await registry.watermark(input.view, input.version, generation);
    return { generation, upTo, ...(await plan({ ...input, generation, upTo })) };
  };
}

/** Deletes a generation's rebuild scratch (its runs; a verify's with scratch 'verify'): after the build or verify, and harmless to repeat. */
export function dropRebuildRuns(deps: ActivityDeps) {
  return async function dropRebuildRuns(input: ViewRef & { readonly generation: number; readonly scratch?: RunScratch }): Promise<number> {
    let dropped = 0;
    await withHeartbeat(async () => {
      for await (const object of deps.offline.list(rebuildRunsPrefix(input.project, input.view, input.version, input.generation, input.scratch))) {
        await deps.offline.delete(object.key);
        dropped++;
      }
    });
    return dropped;
  };
}
