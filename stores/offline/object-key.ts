/** The parts of a committed object's key; parseObjectKey gives them back. */
export interface ObjectKeyParts {
  readonly project: string;
  readonly view: string;
  readonly version: number;
  /** UTC day of the rows' event timestamps, 'YYYY-MM-DD'. */
  readonly eventDate: string;
  readonly batchId: string;
  /** Set when one batch has several objects for the same day. */
  readonly part?: number;
}

export interface StagingKeyParts {
  readonly project: string;
  readonly view: string;
  readonly version: number;
  readonly batchId: string;
}

export const STAGING_FOLDER = '_staging';
/** Scratch of a rebuild (its slices' newest rows, split by entity-hash partition); '-' keeps it apart from any view name. */
export const REBUILD_RUNS_FOLDER = '_rebuild-runs';
/** Scratch of a partitioned verify of a live generation (the same runs, apart from any rebuild's). */
export const VERIFY_RUNS_FOLDER = '_verify-runs';
/** Scratch of a compaction (its slices' rows split by partition), keyed by the snapshot's seq in place of a generation. */
export const COMPACT_RUNS_FOLDER = '_compact-runs';
/** Compacted snapshots: the newest row per entity of a view version up to a seq, by partition (registry: view-snapshots.ts). */
export const SNAPSHOTS_FOLDER = '_snapshots';
/** Whose scratch runs: a rebuild's (default), a verify's or a compaction's. */
export type RunScratch = 'rebuild' | 'verify' | 'compact';

const PROJECT = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const VIEW = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATA_KEY =
  /^([A-Za-z_][A-Za-z0-9_-]*)\/([A-Za-z_][A-Za-z0-9_]*)\/v([1-9]\d*)\/date=(\d{4}-\d{2}-\d{2})\/([A-Za-z0-9][A-Za-z0-9_-]*)(?:\.part-(\d{5,}))?\.parquet$/;
const STAGING_KEY = /^([A-Za-z_][A-Za-z0-9_-]*)\/_staging\/([A-Za-z_][A-Za-z0-9_]*)\/v([1-9]\d*)\/([A-Za-z0-9][A-Za-z0-9_-]*)\.parquet$/;

export class ObjectKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ObjectKeyError';
  }
}

/**
 * The offline layout: where every Parquet object of a view lives, relative to the store's root.
 *
 *   <project>/<view>/v<version>/date=<YYYY-MM-DD>/<batchId>[.part-<NNNNN>].parquet   (data)
 *   <project>/_staging/<view>/v<version>/<batchId>.parquet                            (uploads)
 *   <project>/_rebuild-runs/<view>/v<version>/g<generation>/s<slice>/p<partition>-r<run>.arrow  (rebuild scratch)
 *   <project>/_verify-runs/<view>/v<version>/g<generation>/s<slice>/p<partition>-r<run>.arrow   (verify scratch)
 *   <project>/_compact-runs/<view>/v<version>/g<seq>/s<slice>/p<partition>-r<run>.arrow         (compaction scratch)
 *   <project>/_snapshots/<view>/v<version>/seq<seq>-of<partitions>/p<partition>-r<run>.arrow     (snapshots)
 *
 * Keys are deterministic: the same batch always lands at the same key, so a retry overwrites the
 * same object with the same bytes. Batch ids hold letters, digits, '_' and '-' only (a UUID is
 * fine), so the '.part-' suffix can never be mistaken for part of a batch id.
 *
 * @example
 *   objectKey({ project: 'fraud', view: 'user_spend', version: 1, eventDate: '2024-05-01', batchId: 'b-42' })
 *   // => 'fraud/user_spend/v1/date=2024-05-01/b-42.parquet'
 *   objectKey({ project: 'fraud', view: 'user_spend', version: 1, eventDate: '2024-05-01', batchId: 'b-42', part: 3 })
 *   // => 'fraud/user_spend/v1/date=2024-05-01/b-42.part-00003.parquet'
 *   stagingKey('fraud', 'user_spend', 1, 'b-42') // => 'fraud/_staging/user_spend/v1/b-42.parquet'
 */
export function objectKey(parts: ObjectKeyParts): string {
  const { project, view, version, eventDate, batchId, part } = parts;
  const suffix = part === undefined ? '' : `.part-${String(checkPart(part)).padStart(5, '0')}`;
  return `${viewPrefix(project, view, version)}date=${checkEventDate(eventDate)}/${checkBatchId(batchId)}${suffix}.parquet`;
}

export function stagingKey(project: string, view: string, version: number, batchId: string): string {
  return `${checkProject(project)}/${STAGING_FOLDER}/${checkView(view)}/v${checkVersion(version)}/${checkBatchId(batchId)}.parquet`;
}

/** The folder of a rebuild's (or a verify's) scratch runs for one generation, ending in '/' (for list and delete). */
export function rebuildRunsPrefix(project: string, view: string, version: number, generation: number, scratch: RunScratch = 'rebuild'): string {
  if (!Number.isSafeInteger(generation) || generation < 1) throw new ObjectKeyError(`generation ${generation} must be a whole number >= 1`);
  const folder = scratch === 'verify' ? VERIFY_RUNS_FOLDER : scratch === 'compact' ? COMPACT_RUNS_FOLDER : REBUILD_RUNS_FOLDER;
  return `${checkProject(project)}/${folder}/${checkView(view)}/v${checkVersion(version)}/g${generation}/`;
}

/** One run of a rebuild slice for one partition: Arrow IPC, uncommitted scratch (offline GC collects what a crash leaves). */
export function rebuildRunKey(parts: { project: string; view: string; version: number; generation: number; slice: number; partition: number; run: number; scratch?: RunScratch | undefined }): string {
  const { project, view, version, generation, slice, partition, run, scratch } = parts;
  return `${rebuildRunsPrefix(project, view, version, generation, scratch)}s${slice}/p${partition}-r${run}.arrow`;
}

/** The folder of one snapshot's runs (seq and partition count), ending in '/'. */
export function snapshotPrefix(project: string, view: string, version: number, seq: number, partitions: number): string {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new ObjectKeyError(`snapshot seq ${seq} must be a whole number >= 1`);
  if (!Number.isSafeInteger(partitions) || partitions < 1) throw new ObjectKeyError(`snapshot partitions ${partitions} must be a whole number >= 1`);
  return `${checkProject(project)}/${SNAPSHOTS_FOLDER}/${checkView(view)}/v${checkVersion(version)}/seq${seq}-of${partitions}/`;
}

/** One run of a snapshot's partition: Arrow IPC, the same format as a rebuild's runs (rebuild-runs.ts). */
export function snapshotRunKey(prefix: string, partition: number, run: number): string {
  return `${prefix}p${partition}-r${run}.arrow`;
}

/** The folder holding every data object of one view version, ending in '/' (for list). */
export function viewPrefix(project: string, view: string, version: number): string {
  return `${checkProject(project)}/${checkView(view)}/v${checkVersion(version)}/`;
}

/** The parts of a data key, or undefined when the key is not one. */
export function parseObjectKey(key: string): ObjectKeyParts | undefined {
  const m = DATA_KEY.exec(key);
  if (!m || !isDate(m[4]!) || m[2] === STAGING_FOLDER) return undefined;
  const parts = { project: m[1]!, view: m[2]!, version: Number(m[3]), eventDate: m[4]!, batchId: m[5]! };
  if (!BATCH_ID.test(parts.batchId)) return undefined;
  return m[6] === undefined ? parts : { ...parts, part: Number(m[6]) };
}

/** The parts of a staging key, or undefined when the key is not one. */
export function parseStagingKey(key: string): StagingKeyParts | undefined {
  const m = STAGING_KEY.exec(key);
  if (!m || !BATCH_ID.test(m[4]!)) return undefined;
  return { project: m[1]!, view: m[2]!, version: Number(m[3]), batchId: m[4]! };
}

/** The UTC day of a time in ms, as 'YYYY-MM-DD'. */
export function eventDateOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function isBatchId(value: unknown): value is string {
  return typeof value === 'string' && BATCH_ID.test(value);
}

export function checkBatchId(batchId: string): string {
  if (!isBatchId(batchId)) {
    throw new ObjectKeyError(
      `batch id ${JSON.stringify(batchId)} must be 1-128 letters, digits, '_' or '-', starting with a letter or digit`,
    );
  }
  return batchId;
}

/**
 * Checks a key any store method accepts: relative, '/'-separated, printable ASCII without
 * backslashes, no empty segment and none starting with '.' (so no '..', and room for the local
 * store's hidden temporary files).
 */
export function checkStoreKey(key: string, what = 'key'): string {
  const ok =
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= 1024 &&
    /^[\x21-\x7e]+$/.test(key) &&
    !key.includes('\\') &&
    key.split('/').every((s) => s !== '' && !s.startsWith('.'));
  if (!ok) throw new ObjectKeyError(`${what} ${JSON.stringify(key)} is not a safe relative object key`);
  return key;
}

/** Like checkStoreKey, for list prefixes: may be empty and may end with '/'. */
export function checkStorePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkStoreKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
  return prefix;
}

function checkProject(project: string): string {
  if (typeof project !== 'string' || !PROJECT.test(project)) {
    throw new ObjectKeyError(`project ${JSON.stringify(project)} must be letters, digits, '_' or '-'`);
  }
  return project;
}

function checkView(view: string): string {
  if (typeof view !== 'string' || !VIEW.test(view) || view === STAGING_FOLDER) {
    throw new ObjectKeyError(`view ${JSON.stringify(view)} must be an identifier (letters, digits, '_') other than '${STAGING_FOLDER}'`);
  }
  return view;
}

function checkVersion(version: number): number {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ObjectKeyError(`version must be a whole number >= 1, got ${JSON.stringify(version)}`);
  }
  return version;
}

function checkPart(part: number): number {
  if (!Number.isSafeInteger(part) || part < 0) {
    throw new ObjectKeyError(`part must be a whole number >= 0, got ${JSON.stringify(part)}`);
  }
  return part;
}

function checkEventDate(date: string): string {
  if (typeof date !== 'string' || !isDate(date)) {
    throw new ObjectKeyError(`event date ${JSON.stringify(date)} must be a calendar day 'YYYY-MM-DD'`);
  }
  return date;
}

function isDate(date: string): boolean {
  const m = DATE.exec(date);
  if (!m) return false;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && eventDateOf(ms) === date;
}
