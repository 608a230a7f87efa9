/**
 * The ordered offline commit log: an object becomes visible when its commit row is inserted; the
 * insert is idempotent on (view, version, batch id); every commit gets a sequence number
 * (invariants 1 and 2).
 */
export interface CommitObject {
  readonly key: string;
  readonly rowCount: number;
  readonly minEventTime: Date;
  readonly maxEventTime: Date;
  readonly checksum: string;
  readonly bytes: number;
}

export interface NewCommit {
  readonly view: string;
  readonly version: number;
  readonly batchId: string;
  /** The view's schema version the objects were written with. */
  readonly schemaVersion: number;
  readonly objects: readonly CommitObject[];
}

export interface Commit extends NewCommit {
  /** Global, strictly increasing: the order materialization applies commits in. */
  readonly seq: number;
  readonly committedAt: Date;
}

export interface CommitRange {
  /** Commits with seq > after (default 0). */
  readonly after?: number;
  /** And seq <= upTo (default: no bound). */
  readonly upTo?: number;
  readonly limit?: number;
}

export interface CommitLog {
  /**
   * Inserts the commit, or returns the existing one for (view, version, batchId). Commits of one
   * view become visible in seq order. Throws when the view version is not registered.
   */
  commit(input: NewCommit): Promise<{ commit: Commit; created: boolean }>;
  /** The commit of one batch, if it was committed. */
  commitFor(view: string, version: number, batchId: string): Promise<Commit | undefined>;
  commits(view: string, version: number, range?: CommitRange): Promise<Commit[]>;
  latestCommitSeq(view: string, version: number): Promise<number>;

  /** The greatest event time in the commits up to `upTo` (undefined when there are none). */
  newestEventTime(view: string, version: number, upTo: number): Promise<Date | undefined>;
}
