/**
 * A compacted latest-value snapshot of a view version (workflows/compact-view-workflow.ts): the
 * newest committed row of each entity up to commit `seq`, rows refused by the future-time rule
 * left out, split by entity-hash partition (`partitions` of them) into Arrow IPC runs at
 * snapshotRunKey (stores/offline/object-key.ts), `runs[p]` runs for partition p. A rebuild with
 * the same partition count reads a partition's snapshot runs, then the commits after `seq`.
 */
export interface ViewSnapshot {
  readonly view: string;
  readonly version: number;
  readonly seq: number;
  readonly partitions: number;
  readonly runs: readonly number[];
  /** The future-time rule's skew the rows were judged with: a reader with another skew must not use it. */
  readonly maxFutureSkewMs: number;
  /** Committed rows up to seq (what a rebuild without the snapshot would read). */
  readonly rowsCommitted: number;
  readonly entities: number;
  /** The folder holding its runs, ending in '/'. */
  readonly prefix: string;
  readonly createdAt: Date;
}

export type NewViewSnapshot = Omit<ViewSnapshot, 'createdAt'>;

/** The registry's record of snapshots (granary_view_snapshots). */
export interface ViewSnapshots {
  /** Records a snapshot whose runs are all written; recording the same (view, version, seq, partitions) again is a no-op. */
  recordSnapshot(snapshot: NewViewSnapshot): Promise<ViewSnapshot>;
  /**
   * The newest usable snapshot of the view version with seq <= upTo (and `partitions` when given,
   * and the same skew): never one that was invalidated.
   */
  latestSnapshot(view: string, version: number, options: { upTo?: number; partitions?: number; maxFutureSkewMs: number }): Promise<ViewSnapshot | undefined>;
  /**
   * Every usable snapshot of the project, and those made unusable after `invalidatedSince` (a
   * rebuild that planned with one may still read it): offline GC keeps their runs.
   */
  snapshots(options?: { invalidatedSince?: Date }): Promise<ViewSnapshot[]>;
  /** Marks the usable snapshots of the view version with fromSeq <= seq < beforeSeq (and `partitions` partitions) unusable (default: all), saying why; returns how many. */
  invalidateSnapshots(view: string, version: number, because: string, range?: { fromSeq?: number; beforeSeq?: number; partitions?: number }): Promise<number>;
}
