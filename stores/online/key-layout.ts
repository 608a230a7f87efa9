import { checkJoinKeyValue } from '../../definitions/check-value.ts';
import type { JoinKeyType } from '../../definitions/value-type.ts';
import type { OnlineTarget } from './online-store.ts';
import type { EntityKey } from '../../definitions/feature-value.ts';
import { entityBucket } from './generation-layout.ts';

/** Reserved fields of a row hash: its event and created times, ms since epoch. */
export const EVENT_TIME_FIELD = '__et';
export const CREATED_TIME_FIELD = '__ct';

/** Where a generation lives: the part of OnlineTarget the keys depend on. */
export type GenerationRef = Pick<OnlineTarget, 'project' | 'view' | 'version' | 'generation'>;

type JoinKeys = OnlineTarget['joinKeys'];

const ROW_TAG = 'e:';
const MARKER_TAG = 'marker';
/** Before the hash tag of a bucket marker (Cluster): `<prefix>:marker{...}` never matches `<prefix>:{...` (rows) nor a layout-1 key (a project name has no brace). */
const BUCKET_MARKER_TAG = 'marker';
/** Marker hash fields. */
export const MARKER_CREATED_FIELD = 'createdAt';
export const MARKER_APPLIED_FIELD = 'applied';
/** Marker fields of the generation's layout (generation-layout.ts); absent on layout 1. */
export const MARKER_LAYOUT_FIELD = 'layout';
export const MARKER_BUCKETS_FIELD = 'buckets';
export const MARKER_FEATURES_FIELD = 'features';
/**
 * Layout 2: the count of the generation's row keys kept by its writes (packed-write-many.lua.ts),
 * on the count key: the generation's marker, on Redis Cluster each bucket's marker.
 */
export const MARKER_ROWS_FIELD = 'rows';
/** After a count key: set when rows were created while the count key was gone (its count no longer covers every key). */
const UNCOUNTED_SUFFIX = ':uncounted';
const PLAIN_COUNT_SUFFIX = ':plain-rows';
const ENTITY_SEPARATOR = '|';

/**
 * The Redis key layout of the online store: every key and reserved hash field Granary writes is
 * named here, and nowhere else. A generation's rows have one of two layouts, recorded in its
 * marker (generation-layout.ts); new generations get layout 2.
 *
 *   <prefix>:<project>:<view>:v<version>:g<generation>:e:<entity>   layout 1, hash: one row
 *   <prefix>:{<project>:<view>:v<version>:g<generation>:<bucket>}<entity>
 *                                                                   layout 2, string: one packed row
 *   <prefix>:<project>:<view>:v<version>:g<generation>:marker       hash: the generation marker
 *   <prefix>:marker{<project>:<view>:v<version>:g<generation>:<bucket>}
 *                                                                   hash: a bucket's marker (Redis Cluster only)
 *
 * Layout 2 (packed-row-codec.ts for the value): the part in braces is a Redis Cluster hash tag,
 * one per (generation, bucket), `<bucket>` = entityBucket(<entity>, buckets) in 0..buckets-1
 * (buckets is in the marker). A bucket's rows share one slot, so a script call over rows of one
 * bucket is legal on Cluster, and a generation spreads over `buckets` slots (every master). The
 * marker keeps one key per generation, outside the tags (its key does not depend on the layout,
 * which it records). On a Redis Cluster each bucket also has a marker in its slot, holding the
 * bucket's `applied` (also the rebuild's fence for the bucket): rows and marker of a bucket share
 * one node and one replication stream, so a promoted replica that missed writes shows buckets
 * behind the others (docs/plans/online-store-v2.md).
 *
 * - `<prefix>` is `online.keyPrefix` (default 'granary'), verbatim. Prefixes must not nest
 *   ('granary' and 'granary:x' on one Redis could collide).
 * - `<project>`, `<view>` are escaped (`%` -> `%25`, `:` -> `%3A`), so the part before `:e:` is
 *   unique per (project, view, version, generation) and a glob on it matches nothing else
 *   (`g1:` never matches `g10:`).
 * - `<entity>` is the join-key values in the view's order, joined by `|`; inside a value `%` is
 *   written `%25` and `|` is written `%7C`. Integers are plain decimals whether given as number
 *   or bigint, so one entity has one key. Decoding needs the join-key types (int32 -> number,
 *   int64 -> bigint, string -> string).
 * - A row hash holds one field per non-null feature (a null is an absent field) and two reserved
 *   fields, `__et` (event time, ms) and `__ct` (created time, ms). Feature names may not start
 *   with `__` (definitions enforce it). The hash expires at event time + TTL + grace.
 * - The marker hash holds `createdAt` (ISO time) and `applied`: the last commit seq whose rows
 *   are all in this generation, raised after them on the same connection (so a snapshot that
 *   holds `applied = n` holds the rows of every commit up to n). It never expires.
 *
 * Redis Cluster: layout 2 only (layout 1's keys carry no tag and its calls span slots). Rows of
 * a bucket share a slot; a generation's 256 buckets spread over every master. (A `{...}` inside
 * an entity value comes after the tag, so it changes nothing.)
 *
 * @example
 *   const layout = new KeyLayout('granary');
 *   layout.rowKey(target, ['u|1', 7n]) // => 'granary:fraud:user_spend:v1:g3:e:u%7C1|7'
 *   layout.entityKeyOf(target, 'granary:fraud:user_spend:v1:g3:e:u%7C1|7') // => ['u|1', 7n]
 */
export class KeyLayout {
  constructor(readonly prefix: string) {
    if (prefix === '') throw new Error('online key prefix must not be empty');
  }

  /** Every key of the generation starts with this. */
  generationPrefix(ref: GenerationRef): string {
    return `${this.prefix}:${escapeName(ref.project)}:${escapeName(ref.view)}:v${ref.version}:g${ref.generation}:`;
  }

  /** Row keys are this followed by the encoded entity key. */
  rowKeyPrefix(ref: GenerationRef): string {
    return this.generationPrefix(ref) + ROW_TAG;
  }

  rowKey(target: Pick<OnlineTarget, keyof GenerationRef | 'joinKeys'>, entityKey: EntityKey): string {
    return this.rowKeyPrefix(target) + encodeEntityKey(entityKey, target.joinKeys);
  }

  markerKey(ref: GenerationRef): string {
    return this.generationPrefix(ref) + MARKER_TAG;
  }

  /** SCAN MATCH pattern for the generation's rows. */
  rowPattern(ref: GenerationRef): string {
    return escapeGlob(this.rowKeyPrefix(ref)) + '*';
  }

  /** SCAN MATCH pattern for every key of the generation, marker included. */
  generationPattern(ref: GenerationRef): string {
    return escapeGlob(this.generationPrefix(ref)) + '*';
  }

  /** Layout 2: every row key of the generation starts with this, then `<bucket>}<entity>`. */
  packedTagPrefix(ref: GenerationRef): string {
    return `${this.prefix}:{${escapeName(ref.project)}:${escapeName(ref.view)}:v${ref.version}:g${ref.generation}:`;
  }

  /** Layout 2: the row key of an encoded entity (encodeEntityKey) in a generation of `buckets` buckets. */
  packedRowKey(ref: GenerationRef, encodedEntity: string, buckets: number): string {
    return packedRowKeyAt(this.packedTagPrefix(ref), encodedEntity, buckets);
  }

  /**
   * Layout 2 on Redis Cluster: the marker of one bucket (a hash: `applied`, the rebuild's fence),
   * in the bucket's slot (the same hash tag as its rows), outside the rows' pattern.
   */
  bucketMarkerKey(ref: GenerationRef, bucket: number): string {
    return `${this.bucketMarkerTagPrefix(ref)}${bucket}}`;
  }

  /**
   * Layout 2: the key a write sets when it creates rows while its count key (the marker, or on
   * Cluster the bucket's marker) is gone; always in the count key's slot. A bucket marker's: its
   * name and a suffix (its hash tag, matched by bucketMarkerPattern); the generation marker's (no
   * hash tag): the marker's whole name as the tag, `<prefix>:uncounted{<marker>}` (dropGeneration
   * unlinks it by name).
   */
  uncountedKey(countKey: string): string {
    return countKey.includes('{') ? countKey + UNCOUNTED_SUFFIX : `${this.prefix}${UNCOUNTED_SUFFIX}{${countKey}}`;
  }

  /**
   * Layout 2, standalone and Sentinel: the string key counting the row keys that the rebuild's
   * plain build write (fenced-plain-write.ts) created in a generation, beside the marker's own
   * count, which that write cannot touch (it WATCHes the marker): `<prefix>:plain-rows{<marker>}`,
   * unlinked by name with the marker (dropGeneration).
   */
  plainCountKey(marker: string): string {
    return `${this.prefix}${PLAIN_COUNT_SUFFIX}{${marker}}`;
  }

  /**
   * One SCAN MATCH pattern for every key under any of the generation's prefixes (generationPrefix:
   * layout 1's rows and the marker; packedTagPrefix: layout 2's rows; a Cluster's bucket
   * markers): `<prefix>:*<project>:<view>:v<version>:g<generation>:*`, so a drop that does not
   * know the layout visits the keyspace once instead of once per prefix. It may also match keys
   * of other generations (a project or view whose name ends with this one's): keep only the keys
   * that start with one of the prefixes.
   */
  anyGenerationPattern(ref: GenerationRef): string {
    return `${escapeGlob(this.prefix)}:*${escapeGlob(`${escapeName(ref.project)}:${escapeName(ref.view)}:v${ref.version}:g${ref.generation}:`)}*`;
  }

  /** Layout 2 on Redis Cluster: SCAN MATCH pattern for the generation's bucket markers. */
  bucketMarkerPattern(ref: GenerationRef): string {
    return escapeGlob(this.bucketMarkerTagPrefix(ref)) + '*';
  }

  /** Layout 2 on Redis Cluster: every bucket marker of the generation starts with this. */
  bucketMarkerTagPrefix(ref: GenerationRef): string {
    return `${this.prefix}:${BUCKET_MARKER_TAG}{${escapeName(ref.project)}:${escapeName(ref.view)}:v${ref.version}:g${ref.generation}:`;
  }

  /** Layout 2: SCAN MATCH pattern for the generation's rows (the marker is not among them). */
  packedRowPattern(ref: GenerationRef): string {
    return escapeGlob(this.packedTagPrefix(ref)) + '*';
  }

  /** Layout 2: the entity key of a row key of this target. */
  entityKeyOfPacked(target: Pick<OnlineTarget, keyof GenerationRef | 'joinKeys'>, rowKey: string): EntityKey {
    const prefix = this.packedTagPrefix(target);
    const close = rowKey.indexOf('}', prefix.length);
    if (!rowKey.startsWith(prefix) || close < 0) throw new Error(`key '${rowKey}' is not a row of '${prefix}*'`);
    return decodeEntityKey(rowKey.slice(close + 1), target.joinKeys);
  }

  /** The entity key of a row key of this target. */
  entityKeyOf(target: Pick<OnlineTarget, keyof GenerationRef | 'joinKeys'>, rowKey: string): EntityKey {
    const prefix = this.rowKeyPrefix(target);
    if (!rowKey.startsWith(prefix)) throw new Error(`key '${rowKey}' is not a row of '${prefix}*'`);
    return decodeEntityKey(rowKey.slice(prefix.length), target.joinKeys);
  }
}

/**
 * The entity part of a row key. With the join keys, the arity and each value's type are checked
 * (throws a TypeError); without them the same string comes out for valid keys, which makes it a
 * canonical map key for entities of one view.
 */
export function encodeEntityKey(entityKey: EntityKey, joinKeys?: JoinKeys): string {
  if (joinKeys && entityKey.length !== joinKeys.length) {
    throw new TypeError(
      `entity key ${show(entityKey)} has ${entityKey.length} value(s), expected ${joinKeys.length} (${joinKeys.map((k) => k.name).join(', ')})`,
    );
  }
  if (entityKey.length === 1) return encodeJoinValue(entityKey[0], joinKeys?.[0]);
  let out = '';
  for (let i = 0; i < entityKey.length; i++) {
    if (i > 0) out += ENTITY_SEPARATOR;
    out += encodeJoinValue(entityKey[i], joinKeys?.[i]);
  }
  return out;
}

export function decodeEntityKey(text: string, joinKeys: JoinKeys): EntityKey {
  const parts = joinKeys.length === 1 ? [text] : text.split(ENTITY_SEPARATOR);
  if (parts.length !== joinKeys.length) {
    throw new Error(`entity '${text}' has ${parts.length} part(s), expected ${joinKeys.length}`);
  }
  return parts.map((part, i) => decodeJoinValue(joinKeys[i]!.type, part));
}

function encodeJoinValue(value: unknown, joinKey: JoinKeys[number] | undefined): string {
  switch (joinKey?.type) {
    case undefined:
      if (typeof value === 'string') return escapeValue(value);
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) return String(value);
      break;
    case 'string':
    case 'int32':
    case 'int64':
      if (checkJoinKeyValue(joinKey.type, value) === undefined) return typeof value === 'string' ? escapeValue(value) : String(value);
      break;
  }
  const which = joinKey ? `join key '${joinKey.name}' (${joinKey.type})` : 'entity key';
  throw new TypeError(`${which}: invalid value ${show(value)}`);
}

function decodeJoinValue(type: JoinKeyType, text: string): string | number | bigint {
  switch (type) {
    case 'string':
      return text.includes('%') ? unescapeValue(text) : text;
    case 'int32':
      return Number(text);
    case 'int64':
      return BigInt(text);
  }
}

function escapeValue(value: string): string {
  if (!value.includes('%') && !value.includes('|')) return value;
  return value.replace(/%/g, '%25').replace(/\|/g, '%7C');
}

function unescapeValue(value: string): string {
  return value.replace(/%(25|7C)/g, (_, code: string) => (code === '25' ? '%' : '|'));
}

function escapeName(name: string): string {
  return name.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/** Makes a literal safe inside a Redis glob pattern. */
function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Layout 2: the row key of an encoded entity under a generation's tag prefix (packedTagPrefix),
 * for callers that keep the prefix (serving's read shapes); the one place the row key's format lives.
 *
 * @example
 *   packedRowKeyAt('granary:{p:v:v1:g1:', 'u1', 256) // => 'granary:{p:v:v1:g1:<bucket>}u1'
 */
export function packedRowKeyAt(tagPrefix: string, encodedEntity: string, buckets: number): string {
  return `${tagPrefix}${entityBucket(encodedEntity, buckets)}}${encodedEntity}`;
}
