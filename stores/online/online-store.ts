import type { FeatureView } from '../../definitions/feature-view.ts';
import type { EntityKey, FeatureValue } from '../../definitions/feature-value.ts';
import type { JoinKeyType, ValueType } from '../../definitions/value-type.ts';
import type { ArrowRows } from './arrow-row-packer.ts';

/**
 * The online store's contract: the latest row of each (view, entity) in one online generation.
 * Writes are monotonic and idempotent: a row replaces the stored one only when its
 * (eventTime, createdTime) is strictly greater, decided inside the store in one step, so
 * replays, retries and overlapping runs converge whatever their order.
 *
 * Values use the canonical JS form of their type (FeatureValue, definitions/feature-value.ts).
 */

export interface OnlineRow {
  readonly entityKey: EntityKey;
  /** Feature name to value; a missing or null value is stored as null. */
  readonly values: Readonly<Record<string, FeatureValue | null>>;
  /** Event time, ms since epoch. */
  readonly eventTime: number;
  /** Created time, ms since epoch; 0 when the source has none. */
  readonly createdTime: number;
}

/** Where rows go: one view version in one online generation, and the types to decode with. */
export interface OnlineTarget {
  readonly project: string;
  readonly view: string;
  readonly version: number;
  readonly generation: number;
  /** The view's join keys, in the order of its entities: entity keys are checked and decoded with them. */
  readonly joinKeys: readonly { readonly name: string; readonly type: JoinKeyType }[];
  readonly features: readonly { readonly name: string; readonly type: ValueType }[];
  readonly ttlSeconds: number;
}

/**
 * The online target of a feature view (at its version) in one generation of a project.
 *
 * @example
 *   const target = onlineTargetOf('fraud', userSpend, 1);
 */
export function onlineTargetOf(project: string, view: FeatureView, generation: number): OnlineTarget {
  return Object.freeze({
    project,
    view: view.name,
    version: view.version,
    generation,
    joinKeys: view.entities.map((e) => ({ name: e.joinKey, type: e.valueType })),
    features: view.features.map((f) => ({ name: f.name, type: f.type })),
    ttlSeconds: view.ttlSeconds,
  });
}

/**
 * Rows as columns, no object per row (bulk calls on the rebuild's hot paths): row i is entity
 * `keys[i]` (encoded, key-layout.ts encodeEntityKey) with `eventTimes[i]`, `createdTimes[i]` and
 * `values[feature][i]` for each feature; a feature absent from `values` is null in every row.
 */
export interface OnlineColumns {
  readonly keys: readonly string[];
  readonly eventTimes: ArrayLike<number>;
  readonly createdTimes: ArrayLike<number>;
  readonly values: Readonly<Record<string, readonly (FeatureValue | null)[]>>;
  /**
   * The same rows as Arrow columns, when the caller has them (a rebuild's build and verify,
   * pipelines/arrow-online-columns.ts): a layout-2 generation packs straight from them
   * (arrow-row-packer.ts) without reading `values`, which may then be computed on first use.
   */
  readonly source?: ArrowRows;
}

/** compareRows' answer for one row. */
export const ROW_COMPARISON = Object.freeze({ same: 0, absent: 1, differs: 2 } as const);

export interface WriteResult {
  /** Rows that replaced what was stored (or were new). */
  readonly written: number;
  /** Rows not newer than what was stored: no-ops. */
  readonly skipped: number;
  /**
   * Rows newer than what was stored but already past their expiry (event time + TTL + grace):
   * any older row is removed and nothing is kept. written + skipped + expired = rows.
   */
  readonly expired: number;
}

export interface OnlineRead {
  readonly target: OnlineTarget;
  readonly entityKeys: readonly EntityKey[];
  /** A subset of the target's features to return; all when omitted. */
  readonly features?: readonly string[];
}

export interface OnlineStore {
  /** Monotonic write of many rows, pipelined. Safe to repeat. */
  writeRows(target: OnlineTarget, rows: readonly OnlineRow[]): Promise<WriteResult>;
  /**
   * The rebuild's write into the generation it builds, rows as columns: while the generation's
   * marker records no applied commit (before markRebuiltUpTo; nobody else writes it then), rows
   * are put without the monotonic compare; once it records one, monotonically, as writeRows.
   * Decided in the store, atomically with the writes. Each entity at most once per call.
   */
  writeNewRows(target: OnlineTarget, rows: OnlineColumns): Promise<WriteResult>;
  /** Every read in one round trip; result[i][j] is reads[i].entityKeys[j]'s row, or null. */
  readRows(reads: readonly OnlineRead[]): Promise<(OnlineRow | null)[][]>;
  /**
   * Compares rows with what the generation holds, inside Redis, without reading them back: per
   * row ROW_COMPARISON.same (the stored row has exactly these times and values, compared on
   * their encoded form: field strings in layout 1, a null being an absent field; the packed
   * bytes in layout 2: readRows would return this row),
   * .absent (no row), or .differs (read it with readRows to see how). Reads only.
   */
  compareRows(target: OnlineTarget, rows: OnlineColumns): Promise<Uint8Array>;
  /**
   * Writes the generation marker when there is none, recording the layout the generation gets
   * (generation-layout.ts; a new one gets the current layout). Idempotent: an existing marker
   * keeps its applied seq and its layout.
   */
  markGeneration(target: OnlineTarget): Promise<void>;
  /** False when the marker is gone: Redis lost this generation's data. */
  hasGenerationMarker(target: OnlineTarget): Promise<boolean>;
  /**
   * The last commit seq recorded as applied in the generation's marker (0 when none yet), or
   * null when the marker is gone. Lower than the registry's watermark means Redis came back from
   * an older snapshot: the commits after it must be applied again. On Redis Cluster, the lowest
   * of the generation's bucket markers (a promoted replica that missed writes is behind there).
   */
  appliedSeq(target: OnlineTarget): Promise<number | null>;
  /**
   * Raises the marker's applied seq to `seq` (never lowers it), after the commit's rows were
   * written on this connection; returns the stored seq, or null when the marker is gone.
   */
  recordApplied(target: OnlineTarget, seq: number): Promise<number | null>;
  /**
   * Identifies the running server process (Redis' run_id; on Redis Cluster the masters' run ids):
   * it changes when Redis restarts or fails over, when writes not yet persisted may have been lost.
   */
  instanceId(): Promise<string>;
  /**
   * Every row of a generation, in batches, in no particular order, each entity once (for verify).
   * Rows past their expiry (row-expiry.ts) are not returned.
   */
  scanRows(target: OnlineTarget, batchSize?: number): AsyncIterable<OnlineRow[]>;
  /**
   * The generation's row keys, counted by SCAN without reading them: every key there for the
   * whole scan is counted at least once (SCAN may return a key twice while Redis rehashes), in
   * memory that does not grow with the view. Verify compares it with the entities it found.
   */
  countRowKeys(target: OnlineTarget): Promise<number>;
  /**
   * The count of the generation's row keys its own writes keep (created minus deleted, in the
   * same atomic step as each write), without visiting the keyspace: an upper bound of the keys
   * Granary wrote there (Redis' expiry only lowers the true number), or undefined when the
   * generation does not keep one (then countRowKeys). It does not see keys written by anything
   * other than Granary; countRowKeys does.
   */
  countedRowKeys(target: OnlineTarget): Promise<number | undefined>;
  /**
   * The one unconditional write, for repair: replaces the entity's row with `row` (or deletes it
   * when `row` is null) whatever its times, provided the stored row still has the times in
   * `expected` (null: no row), in one step inside Redis. 'conflict' when another write came
   * first: read again and retry. See replace-row.lua.ts.
   */
  replaceRow(
    target: OnlineTarget,
    entityKey: EntityKey,
    expected: { readonly eventTime: number; readonly createdTime: number } | null,
    row: OnlineRow | null,
  ): Promise<'written' | 'deleted' | 'expired' | 'conflict'>;
  /** Deletes every key of a generation, marker included; returns how many keys went. */
  dropGeneration(target: OnlineTarget): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
