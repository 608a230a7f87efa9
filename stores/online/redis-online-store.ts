import { Cluster, Redis, type ChainableCommander } from 'ioredis';
import { hashSlot } from './hash-slot.ts';
import { createRedisClient, type RedisConnectionOptions } from './redis-client.ts';
import { ReadShape, ShapeCache, featureOf } from './read-shape.ts';
import { parseClusterUrl } from './redis-cluster-url.ts';
import {
  CREATED_TIME_FIELD,
  EVENT_TIME_FIELD,
  KeyLayout,
  MARKER_APPLIED_FIELD,
  MARKER_BUCKETS_FIELD,
  MARKER_CREATED_FIELD,
  MARKER_FEATURES_FIELD,
  MARKER_LAYOUT_FIELD,
  MARKER_ROWS_FIELD,
  decodeEntityKey,
  encodeEntityKey,
  packedRowKeyAt,
  type GenerationRef,
} from './key-layout.ts';
import { COMPARE_ROWS_COMMAND, COMPARE_ROWS_LUA } from './compare-rows.lua.ts';
import { FRESH_WRITE_MANY_COMMAND, FRESH_WRITE_MANY_LUA } from './fresh-write-many.lua.ts';
import { MONOTONIC_WRITE_MANY_COMMAND, MONOTONIC_WRITE_MANY_LUA } from './monotonic-write-many.lua.ts';
import { RECORD_APPLIED_COMMAND, RECORD_APPLIED_LUA } from './record-applied.lua.ts';
import { REPLACE_ROW_COMMAND, REPLACE_ROW_LUA, REPLACE_ROW_RESULT } from './replace-row.lua.ts';
import { OnlineStoreError, redactUrl } from './online-store-error.ts';
import { untrustedCertificate } from '../untrusted-certificate.ts';
import type { OnlineColumns, OnlineRead, OnlineRow, OnlineStore, OnlineTarget, WriteResult } from './online-store.ts';
import type { EntityKey, FeatureValue } from '../../definitions/feature-value.ts';
import { defaultExpiryGraceSeconds, rowExpiresAt } from './row-expiry.ts';
import { valueCodec, type ValueCodec } from './value-codec.ts';
import {
  CURRENT_LAYOUT_VERSION,
  DEFAULT_BUCKETS,
  HASH_ROWS,
  entityBucket,
  layoutOfMarker,
  packedRows,
  packingToMarker,
  type GenerationLayout,
  type LayoutVersion,
} from './generation-layout.ts';
import { PackedRowCodec, PackedRowTooNew } from './packed-row-codec.ts';
import { packArrowRows } from './arrow-row-packer.ts';
import { packColumns, sameAsStored, type PackedRows } from './packed-rows.ts';
import {
  EXTEND_PACKING_COMMAND,
  EXTEND_PACKING_LUA,
  MARK_GENERATION_COMMAND,
  MARK_GENERATION_LUA,
  PACKED_FRESH_WRITE_MANY_COMMAND,
  PACKED_FRESH_WRITE_MANY_LUA,
  PACKED_REPLACE_ROW_COMMAND,
  PACKED_REPLACE_ROW_LUA,
  PACKED_WRITE_MANY_COMMAND,
  PACKED_WRITE_MANY_LUA,
} from './packed-write-many.lua.ts';
import { BLOB_ROW_HEADER_BYTES, PACKED_FRESH_WRITE_BLOB_COMMAND, PACKED_FRESH_WRITE_BLOB_LUA } from './packed-fresh-write-blob.lua.ts';
import { PlainRows, PlainWriteConnections, writePlainBehindFence, type PlainFence } from './fenced-plain-write.ts';
import type { RespEndpoint } from './resp-connection.ts';

/**
 * Rows per monotonic script call. Redis runs one script at a time and serves no reader meanwhile,
 * and serving reads this Redis: a call should cost Redis about 1 ms at most. Measured on the
 * project's shared 2-core machine (INFO commandstats / latencystats for EVALSHA, 10 features,
 * replacing rows, load 4-9): 18-40 us of Redis per row, so 50 rows cost 0.9-1.4 ms on average
 * (p50 0.93-1.09 ms), 100 rows 1.7-2.2 ms p50, 200 rows 4-5 ms p50. Writes gain little past 50:
 * the per-call overheads (ioredis' Command, EVALSHA dispatch) are already 1/50.
 */
export const DEFAULT_ROWS_PER_CALL = 50;
/** Rows per write pipeline (several calls). */
export const DEFAULT_WRITE_CHUNK_SIZE = 1000;
/** Write pipelines in flight at once. */
export const DEFAULT_WRITE_CHUNKS_IN_FLIGHT = 4;
/**
 * Rows per compare script call (compare-rows.lua.ts): an HMGET and a string comparison per
 * field, about 10 us of Redis per row of 10 features, so a call stays near 1 ms.
 */
export const DEFAULT_ROWS_PER_COMPARE = 100;
/**
 * Rows per script call of layout 2 (packed-write-many.lua.ts): a GETRANGE and a SET per row
 * (a SET only on the rebuild's fenced path), a few us of Redis each, so a call of 100 rows stays
 * well under 1 ms. A call holds rows of one bucket only, so calls are often smaller.
 */
export const DEFAULT_PACKED_ROWS_PER_CALL = 100;
/**
 * Keys per MGET of layout 2's compare (verify) on a standalone Redis or a Sentinel's master, where
 * every key is in one slot: a lookup per key in Redis (commandstats: 70-75 us per MGET of ~62
 * keys), so ~1.2 ms per MGET, less than the plain build write's EXEC of ~1000 rows (~2.3 ms).
 */
const STANDALONE_MGET_KEYS = 1000;

/**
 * Where the Redis online store connects (RedisConnectionOptions, redis-client.ts: `url` as
 * redis://, rediss:// or a Cluster's seed nodes `redis+cluster://[user:password@]host:port,...`;
 * sentinels; tlsCa; failFast; timeouts; config `online.*`), its key prefix, and how it fails and
 * batches.
 */
export interface RedisOnlineStoreOptions extends RedisConnectionOptions {
  /** Prefix of every key (config `online.keyPrefix`). */
  readonly keyPrefix: string;
  /**
   * Deadline of one Redis call or pipeline, queued time included; 0 for none. Default 10000.
   * Kept per call, not per command: a timer per command costs a third of a bulk write.
   */
  readonly commandTimeoutMs?: number;
  /**
   * Rows per monotonic script call (monotonic-write-many.lua.ts). Default DEFAULT_ROWS_PER_CALL;
   * Redis serves nobody else while a call runs, so keep a call near 1 ms (see there).
   */
  readonly rowsPerCall?: number;
  /** Rows per write pipeline: calls of `rowsPerCall` rows, sent together. Default DEFAULT_WRITE_CHUNK_SIZE. */
  readonly writeChunkSize?: number;
  /** Write pipelines in flight at once. Default DEFAULT_WRITE_CHUNKS_IN_FLIGHT. */
  readonly writeChunksInFlight?: number;
  /** Rows per compare script call (compareRows). Default DEFAULT_ROWS_PER_COMPARE. */
  readonly rowsPerCompare?: number;
  /** SCAN COUNT hint. Default 1000. */
  readonly scanCount?: number;
  /** Rows expire at event time + TTL + grace; grace defaults to max(TTL, 1 hour). */
  readonly expiryGraceSeconds?: number;
  /**
   * The layout a generation gets when its marker is first written (markGeneration), and the
   * layout assumed for a generation without a marker. Default CURRENT_LAYOUT_VERSION (2); 1 only
   * to make layout-1 generations (tests of the cut-over, the bench's comparison).
   */
  readonly newGenerationLayout?: LayoutVersion;
  /** Buckets of a new layout-2 generation. Default DEFAULT_BUCKETS. */
  readonly buckets?: number;
  /** Rows per script call of layout 2. Default DEFAULT_PACKED_ROWS_PER_CALL. */
  readonly packedRowsPerCall?: number;
  /**
   * The rebuild's write into a layout-2 generation without a script while its fence is open
   * (fenced-plain-write.ts: WATCH the marker, MULTI, SET ... PXAT ... GET per row, EXEC), on a
   * standalone Redis or a Sentinel's master. Default true; false writes every row through the
   * fenced script, as a Redis Cluster always does.
   */
  readonly plainBuildWrite?: boolean;
  /** Tests only: runs between the plain write's fence read and its EXEC (to touch the marker there). */
  readonly afterFenceRead?: () => Promise<void>;
}

/** Rows written by the rebuild's fenced write, by path (RedisOnlineStore.buildWritePaths). */
export interface BuildWritePaths {
  /** Rows put by a plain MULTI / EXEC while the fence was open (fenced-plain-write.ts). */
  plainRows: number;
  /** Rows sent through the fenced script (the fence closed or touched, a row refused, a Cluster, or plainBuildWrite false). */
  scriptRows: number;
}

/** One script call of layout 2: its row count and how to add it to a pipeline. */
interface PackedCall {
  readonly rows: number;
  /** The fenced write's rows, added to a plain write (fenced-plain-write.ts) instead of the call. */
  readonly plain?: (rows: PlainRows) => void;
  /** The Cluster slot of its keys (one bucket: one slot). */
  readonly slot: number;
  add(pipeline: ChainableCommander): void;
}

type ScriptCommand = (args: (string | Buffer)[]) => unknown;

/** A command of known slot, for execBySlot. */
interface SlotCommand {
  readonly slot: number;
  add(pipeline: ChainableCommander): void;
}

interface WithMonotonicWriteMany {
  [MONOTONIC_WRITE_MANY_COMMAND](args: string[]): unknown;
}

interface WithFreshWriteMany {
  [FRESH_WRITE_MANY_COMMAND](args: string[]): unknown;
}

interface WithCompareRows {
  [COMPARE_ROWS_COMMAND](args: string[]): unknown;
}

interface WithReplaceRow {
  [REPLACE_ROW_COMMAND](args: string[]): Promise<number>;
}

interface WithRecordApplied {
  [RECORD_APPLIED_COMMAND](key: string, seq: string): Promise<number>;
}

interface WithMarkGeneration {
  [MARK_GENERATION_COMMAND](key: string, uncountedKey: string, count: string, ...fields: string[]): Promise<number>;
}

interface FeatureCodec {
  readonly name: string;
  readonly codec: ValueCodec;
}

const TIME_FIELDS = [EVENT_TIME_FIELD, CREATED_TIME_FIELD];

/**
 * The online store on one standalone Redis, a Sentinel-managed master or a Redis Cluster, through ioredis. Keys:
 * see key-layout.ts. Each generation has a layout, recorded in its marker (generation-layout.ts):
 * layout 2, packed rows (packed-row-codec.ts, packed-write-many.lua.ts), for every new generation;
 * layout 1, hashes (monotonic-write-many.lua.ts and its neighbours), for generations made before,
 * until a rebuild cuts over. Every method reads the generation's layout (once; kept) and acts on
 * that layout.
 *
 * Redis being down never hangs a caller: connecting gives up after `connectTimeoutMs`, a queued
 * command fails after `maxRetriesPerRequest` reconnect attempts (well under a second when the
 * port refuses), any call or pipeline after `commandTimeoutMs`; with `failFast` (for the serving
 * path) a call made while disconnected fails at once. The client keeps reconnecting, so calls work again once Redis is
 * back. Errors are OnlineStoreError, naming the URL.
 *
 * @example
 *   const store = new RedisOnlineStore({ url: 'redis://127.0.0.1:16379', keyPrefix: 'granary' });
 *   await store.writeRows(target, [{ entityKey: ['u1'], values: { spend: 12.5 }, eventTime: Date.now(), createdTime: 0 }]);
 *   // => { written: 1, skipped: 0, expired: 0 }
 *   await store.readRows([{ target, entityKeys: [['u1'], ['nobody']] }]);
 *   // => [[{ entityKey: ['u1'], values: { spend: 12.5 }, eventTime: ..., createdTime: 0 }, null]]
 *
 * On a Redis Cluster (`url: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000'`, ioredis' Cluster):
 * the same calls, layout 2 only; commands grouped by slot and then by node, one pipeline per node,
 * nodes in parallel; a marker per bucket next to the generation marker (`clustered` below).
 */
export class RedisOnlineStore implements OnlineStore {
  readonly url: string;
  readonly layout: KeyLayout;
  /**
   * True on a Redis Cluster: pipelines are split by node, SCAN runs on every master, and each
   * bucket of a generation has its own marker (the fence and the applied seq, in the bucket's
   * slot) next to the generation marker. Layout 1 is refused there (its calls span slots).
   */
  readonly clustered: boolean;
  private readonly redis: Redis | Cluster;
  private readonly options: RedisOnlineStoreOptions;
  private connecting: Promise<void> | undefined;
  private lastError: Error | undefined;
  /** Layouts read from markers, by generation prefix: a marked generation's layout never changes. */
  private readonly layouts = new Map<string, GenerationLayout>();
  private readonly newLayout: GenerationLayout;
  private readonly packedCodecs = new WeakMap<OnlineTarget['features'], PackedRowCodec>();
  private readonly packingCodecs = new WeakMap<NonNullable<GenerationLayout['features']>, PackedRowCodec>();
  /** Per target: its read shape, while still current (readShapeOf). */
  private readonly readShapes = new ShapeCache();
  /** The plain build write's own connections; undefined on a Cluster or with plainBuildWrite false. */
  private readonly plainConnections: PlainWriteConnections | undefined;
  /** Rows of the rebuild's fenced write so far, by path (tests, the bench). */
  readonly buildWritePaths: BuildWritePaths = { plainRows: 0, scriptRows: 0 };

  constructor(options: RedisOnlineStoreOptions) {
    this.options = options;
    const sentinels = options.sentinels ?? [];
    const master = options.sentinelMaster ?? 'granary';
    this.url = sentinels.length ? `sentinel master '${master}' via ${sentinels.join(',')} (${redactUrl(options.url)})` : redactUrl(options.url);
    this.layout = new KeyLayout(options.keyPrefix);
    this.newLayout = (options.newGenerationLayout ?? CURRENT_LAYOUT_VERSION) === 1 ? HASH_ROWS : packedRows(options.buckets ?? DEFAULT_BUCKETS);
    this.clustered = parseClusterUrl(options.url) !== undefined;
    if (this.clustered && sentinels.length) throw new Error(`${this.url}: a Redis Cluster has no sentinels; give one or the other`);
    if (this.clustered && this.newLayout.version !== 2) {
      throw new Error(`${this.url}: a Redis Cluster holds layout-2 generations only (newGenerationLayout ${options.newGenerationLayout})`);
    }
    this.redis = createRedisClient(options);
    this.redis.on('error', (error: Error) => {
      this.lastError = error;
    });
    this.redis.on('ready', () => {
      this.lastError = undefined;
    });
    this.redis.defineCommand(MONOTONIC_WRITE_MANY_COMMAND, { lua: MONOTONIC_WRITE_MANY_LUA });
    this.redis.defineCommand(FRESH_WRITE_MANY_COMMAND, { lua: FRESH_WRITE_MANY_LUA });
    this.redis.defineCommand(COMPARE_ROWS_COMMAND, { lua: COMPARE_ROWS_LUA });
    this.redis.defineCommand(RECORD_APPLIED_COMMAND, { numberOfKeys: 1, lua: RECORD_APPLIED_LUA });
    this.redis.defineCommand(REPLACE_ROW_COMMAND, { numberOfKeys: 1, lua: REPLACE_ROW_LUA });
    this.redis.defineCommand(PACKED_WRITE_MANY_COMMAND, { lua: PACKED_WRITE_MANY_LUA });
    this.redis.defineCommand(PACKED_FRESH_WRITE_MANY_COMMAND, { lua: PACKED_FRESH_WRITE_MANY_LUA });
    this.redis.defineCommand(PACKED_FRESH_WRITE_BLOB_COMMAND, { lua: PACKED_FRESH_WRITE_BLOB_LUA });
    this.redis.defineCommand(PACKED_REPLACE_ROW_COMMAND, { numberOfKeys: 3, lua: PACKED_REPLACE_ROW_LUA });
    this.redis.defineCommand(MARK_GENERATION_COMMAND, { numberOfKeys: 2, lua: MARK_GENERATION_LUA });
    this.redis.defineCommand(EXTEND_PACKING_COMMAND, { numberOfKeys: 1, lua: EXTEND_PACKING_LUA });
    // With TLS through sentinels the master's certificate name is not known here: the script then.
    const tlsWithSentinels = sentinels.length > 0 && (this.redis as Redis).options.tls !== undefined;
    this.plainConnections =
      this.clustered || options.plainBuildWrite === false || tlsWithSentinels ? undefined : new PlainWriteConnections(() => this.plainEndpoint(), 8);
  }

  /** Where the plain build write connects: the master the client is connected to, as the client. */
  private async plainEndpoint(): Promise<RespEndpoint> {
    await this.connected('writeNewRows');
    const redis = this.redis as Redis;
    const { remoteAddress, remotePort } = redis.stream;
    if (!remoteAddress || !remotePort) throw this.failure('writeNewRows', new Error('not connected'));
    const o = redis.options;
    return {
      host: remoteAddress,
      port: remotePort,
      ...(o.tls ? { tls: { ...o.tls, servername: o.host } } : {}),
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      db: o.db ?? 0,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 2000,
    };
  }

  /**
   * The layout of a generation (generation-layout.ts): what its marker records, read once and
   * kept; without a marker, the layout a new generation gets (not kept: a marker may come).
   */
  async generationLayout(ref: GenerationRef): Promise<GenerationLayout> {
    const prefix = this.layout.generationPrefix(ref);
    const known = this.layouts.get(prefix);
    if (known) return known;
    const key = this.layout.markerKey(ref);
    await this.connected('generationLayout');
    const [exists, fields] = await this.exec(
      'generationLayout',
      this.redis.pipeline().exists(key).hmget(key, MARKER_LAYOUT_FIELD, MARKER_BUCKETS_FIELD, MARKER_FEATURES_FIELD),
    );
    if (exists !== 1) return this.newLayout;
    const [layout, buckets, features] = fields as (string | null)[];
    let found: GenerationLayout;
    try {
      found = layoutOfMarker(layout, buckets, features);
      if (this.clustered && found.version !== 2) throw new Error('a layout-1 generation cannot live on a Redis Cluster (its calls span slots); rebuild it on a standalone Redis first');
    } catch (error) {
      throw this.failure('generationLayout', new Error(`${this.layout.markerKey(ref)}: ${(error as Error).message}`));
    }
    this.layouts.set(prefix, found);
    return found;
  }

  /**
   * The codec of a layout-2 generation's packing order (its marker's `features`), checked
   * against the target: a feature of the target missing from it (a nullable feature added in
   * place since) is looked for again in the marker, and with `extend` (writes) appended to it
   * (compare-and-set, EXTEND_PACKING_LUA). Without a marker: the target's own order.
   */
  private async packedCodec(target: OnlineTarget, layout: GenerationLayout, extend: boolean): Promise<PackedRowCodec> {
    if (!layout.features) return this.packedCodecOf(target);
    let packing = layout.features;
    for (let attempt = 0; ; attempt++) {
      const byName = new Map(packing.map((f) => [f.name, f]));
      for (const f of target.features) {
        const packed = byName.get(f.name);
        if (packed && packed.type !== f.type) {
          throw new TypeError(`feature view '${target.view}' v${target.version}: feature '${f.name}' is ${f.type}, generation ${target.generation} packs it as ${packed.type}`);
        }
      }
      const missing = target.features.filter((f) => !byName.has(f.name));
      if (missing.length === 0 || (attempt > 0 && !extend)) return this.codecOfPacking(packing);
      if (attempt > 3) throw this.failure('packedCodec', new Error(`could not append ${missing.map((f) => f.name).join(', ')} to the packing of generation ${target.generation}`));
      if (attempt > 0) {
        const marker = this.layout.markerKey(target);
        const extended = packingToMarker([...packing, ...missing.map((f) => ({ name: f.name, type: f.type }))]);
        const redis = this.redis as unknown as Record<string, (key: string, ...args: string[]) => Promise<string | null>>;
        await this.call('packedCodec', () => redis[EXTEND_PACKING_COMMAND]!(marker, packingToMarker(packing), extended));
      }
      this.layouts.delete(this.layout.generationPrefix(target));
      const fresh = await this.generationLayout(target);
      if (!fresh.features) return this.packedCodecOf(target);
      packing = fresh.features;
    }
  }

  private codecOfPacking(packing: NonNullable<GenerationLayout['features']>): PackedRowCodec {
    let codec = this.packingCodecs.get(packing);
    if (!codec) {
      codec = new PackedRowCodec(checkedFeatures(packing));
      this.packingCodecs.set(packing, codec);
    }
    return codec;
  }

  /** The Redis key of an entity's row in a generation, by the generation's layout (for tests and tools). */
  async rowKey(target: OnlineTarget, entityKey: EntityKey): Promise<string> {
    const layout = await this.generationLayout(target);
    const encoded = encodeEntityOf(target, entityKey);
    return layout.version === 2 ? this.layout.packedRowKey(target, encoded, layout.buckets) : this.layout.rowKeyPrefix(target) + encoded;
  }

  /** Replaces (or deletes) one entity's row whatever its times, if it still is `expected` (replace-row.lua.ts). */
  async replaceRow(
    target: OnlineTarget,
    entityKey: EntityKey,
    expected: { readonly eventTime: number; readonly createdTime: number } | null,
    row: OnlineRow | null,
  ): Promise<'written' | 'deleted' | 'expired' | 'conflict'> {
    const layout = await this.generationLayout(target);
    if (layout.version === 2) return this.replacePackedRow(target, layout, entityKey, expected, row);
    const key = rowKeyOf(target, this.layout.rowKeyPrefix(target), entityKey);
    const args = [key, expected ? String(expected.eventTime) : '', expected ? String(expected.createdTime) : '', row ? 'row' : 'none'];
    if (row) {
      const graceSeconds = this.options.expiryGraceSeconds ?? defaultExpiryGraceSeconds(target.ttlSeconds);
      pushRowArgs(target, codecsOf(target.features), graceSeconds, { ...row, entityKey }, args);
    }
    const result = await this.call('replaceRow', () => (this.redis as unknown as WithReplaceRow)[REPLACE_ROW_COMMAND](args));
    if (result === REPLACE_ROW_RESULT.written) return 'written';
    if (result === REPLACE_ROW_RESULT.deleted) return 'deleted';
    if (result === REPLACE_ROW_RESULT.expired) return 'expired';
    return 'conflict';
  }

  /**
   * Monotonic script calls of `rowsPerCall` rows (monotonic-write-many.lua.ts), `writeChunkSize`
   * rows per pipeline, `writeChunksInFlight` pipelines at once. A bad row (type, arity,
   * non-finite time) throws a TypeError naming it before anything of its pipeline is sent. If
   * Redis fails midway, some rows may be in: retrying the whole call is safe.
   */
  async writeRows(target: OnlineTarget, rows: readonly OnlineRow[]): Promise<WriteResult> {
    if (rows.length === 0) return { written: 0, skipped: 0, expired: 0 };
    const layout = await this.generationLayout(target);
    if (layout.version === 2) {
      const codec = await this.packedCodec(target, layout, true);
      const graceSeconds = this.options.expiryGraceSeconds ?? defaultExpiryGraceSeconds(target.ttlSeconds);
      const encoded = rows.map((row) => encodeEntityOf(target, row.entityKey));
      const packed = rows.map((row) => packRow(target, codec, graceSeconds, describeKey(row.entityKey), row.eventTime, row.createdTime, (f) => row.values[codec.features[f]!.name]));
      return this.writePacked('writeRows', target, layout, encoded, packed, false);
    }
    const rowPrefix = this.layout.rowKeyPrefix(target);
    const features = codecsOf(target.features);
    const graceSeconds = this.options.expiryGraceSeconds ?? defaultExpiryGraceSeconds(target.ttlSeconds);
    return this.writeInCalls('writeRows', rows.length, (pipeline, from, to) => {
      const keys = new Array<string>(to - from);
      const argv: string[] = [];
      for (let i = from; i < to; i++) {
        const row = rows[i]!;
        keys[i - from] = rowKeyOf(target, rowPrefix, row.entityKey);
        pushRowArgs(target, features, graceSeconds, row, argv);
      }
      (pipeline as unknown as WithMonotonicWriteMany)[MONOTONIC_WRITE_MANY_COMMAND]([String(keys.length), ...keys, ...argv]);
    });
  }

  /**
   * The rebuild's write into the generation it builds (fresh-write-many.lua.ts): calls and
   * pipelines as writeRows, each call putting its rows without the monotonic compare while the
   * generation's marker records no applied commit, with it once it does. Rows come as columns;
   * each entity at most once per call of `rows` (a build's winners). Layout 2 on a standalone
   * Redis or a Sentinel's master: each chunk of `writeChunkSize` rows is first written without a
   * script, behind the same fence (fenced-plain-write.ts, `plainBuildWrite`), and goes through
   * the fenced script only when the fence is closed or was touched before its EXEC.
   */
  async writeNewRows(target: OnlineTarget, rows: OnlineColumns): Promise<WriteResult> {
    const marker = this.layout.markerKey(target);
    if (rows.keys.length === 0) return { written: 0, skipped: 0, expired: 0 };
    const layout = await this.generationLayout(target);
    if (layout.version === 2) {
      const codec = await this.packedCodec(target, layout, true);
      const graceSeconds = this.options.expiryGraceSeconds ?? defaultExpiryGraceSeconds(target.ttlSeconds);
      if (rows.source) return this.writeArrowPacked(target, layout, rows, packArrowRows(codec, featureNamesOf(target), rows.source, rows.eventTimes, rows.createdTimes), graceSeconds);
      const columns = codec.features.map((f) => rows.values[f.name]);
      const packed = rows.keys.map((key, i) => packRow(target, codec, graceSeconds, key, rows.eventTimes[i]!, rows.createdTimes[i]!, (f) => columns[f]?.[i]));
      return this.writePacked('writeNewRows', target, layout, rows.keys, packed, true);
    }
    const rowPrefix = this.layout.rowKeyPrefix(target);
    const features = codecsOf(target.features).map((f) => ({ ...f, column: rows.values[f.name] }));
    const graceSeconds = this.options.expiryGraceSeconds ?? defaultExpiryGraceSeconds(target.ttlSeconds);
    return this.writeInCalls('writeNewRows', rows.keys.length, (pipeline, from, to) => {
      const keys = new Array<string>(to - from);
      const argv: string[] = [];
      for (let i = from; i < to; i++) {
        keys[i - from] = rowPrefix + rows.keys[i]!;
        pushColumnArgs(target, features, graceSeconds, rows, i, argv);
      }
      (pipeline as unknown as WithFreshWriteMany)[FRESH_WRITE_MANY_COMMAND]([String(keys.length + 1), marker, ...keys, ...argv]);
    });
  }

  /**
   * Script calls of `rowsPerCall` rows, `writeChunkSize` rows per pipeline, `writeChunksInFlight`
   * pipelines at once; `call` encodes rows [from, to) as one call (every call of a pipeline is
   * encoded before any is sent). Sums the calls' { written, skipped, expired }.
   */
  private async writeInCalls(operation: string, count: number, call: (pipeline: ChainableCommander, from: number, to: number) => void): Promise<WriteResult> {
    const chunkSize = this.options.writeChunkSize ?? DEFAULT_WRITE_CHUNK_SIZE;
    const rowsPerCall = Math.min(this.options.rowsPerCall ?? DEFAULT_ROWS_PER_CALL, chunkSize);
    const inFlight = this.options.writeChunksInFlight ?? DEFAULT_WRITE_CHUNKS_IN_FLIGHT;
    if (!(rowsPerCall >= 1 && inFlight >= 1)) throw new RangeError(`rowsPerCall, writeChunkSize and writeChunksInFlight must be >= 1`);
    const counts = { written: 0, skipped: 0, expired: 0 };
    let next = 0;
    let failed = false;

    const writeChunk = async (start: number): Promise<void> => {
      const pipeline = this.redis.pipeline();
      const end = Math.min(start + chunkSize, count);
      for (let from = start; from < end; from += rowsPerCall) call(pipeline, from, Math.min(from + rowsPerCall, end));
      for (const result of await this.exec(operation, pipeline)) addWriteCounts(counts, result);
    };
    const worker = async (): Promise<void> => {
      while (!failed && next < count) {
        const start = next;
        next += chunkSize;
        try {
          await writeChunk(start);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    if (count > 0) await this.connected(operation);
    const workers = Array.from({ length: Math.min(inFlight, Math.ceil(count / chunkSize)) }, worker);
    const settled = await Promise.allSettled(workers);
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;
    return counts;
  }

  /**
   * Layout 2's writes (packed-write-many.lua.ts): rows grouped by bucket, calls of at most
   * `packedRowsPerCall` rows of one bucket (one hash tag: one Cluster slot), about
   * `writeChunkSize` rows per pipeline, `writeChunksInFlight` pipelines at once. Every row is
   * encoded (and checked) before anything is sent. `fenced`: the rebuild's fenced write, its fence
   * the generation marker, or on Cluster the bucket's marker (in the bucket's slot, as a script's
   * keys must be); written plainly where it can be (runCalls).
   */
  private async writePacked(
    operation: string,
    target: GenerationRef,
    layout: GenerationLayout,
    encodedEntities: readonly string[],
    packed: readonly [string, Buffer][],
    fenced: boolean,
  ): Promise<WriteResult> {
    const command = fenced ? PACKED_FRESH_WRITE_MANY_COMMAND : PACKED_WRITE_MANY_COMMAND;
    return this.writeInBucketCalls(
      operation,
      target,
      layout,
      encodedEntities,
      command,
      (args, rows, from, to) => {
        for (let j = from; j < to; j++) args.push(...packed[rows[j]!]!);
      },
      fenced
        ? (plain, key, i) => {
            const [expiry, row] = packed[i]!;
            plain.put(key, row, 0, row.length, Number(expiry));
          }
        : undefined,
    );
  }

  /**
   * Layout 2's script calls: rows grouped by bucket (one hash tag: one Cluster slot), at most
   * `packedRowsPerCall` rows per call, each call's KEYS the count key (the generation's marker, on
   * a Cluster the bucket's, in its slot: also the rebuild's fence), its uncounted key and the
   * rows' keys, then `rowArgs` appends the ARGV of the call's rows (rows[from..to), indices into
   * `encodedEntities`; made only when the call is sent), calls in bucket order. `plainRow`, for
   * the rebuild's fenced write: adds row i under its key to a plain write (runCalls). Runs them
   * (runCalls) and sums { written, skipped, expired }.
   */
  private async writeInBucketCalls(
    operation: string,
    target: GenerationRef,
    layout: GenerationLayout,
    encodedEntities: readonly string[],
    command: string,
    rowArgs: (args: (string | Buffer)[], rows: readonly number[], from: number, to: number) => void,
    plainRow?: (plain: PlainRows, key: string, i: number) => void,
  ): Promise<WriteResult> {
    const perCall = this.options.packedRowsPerCall ?? DEFAULT_PACKED_ROWS_PER_CALL;
    if (!(perCall >= 1)) throw new RangeError(`packedRowsPerCall must be >= 1`);
    const tag = this.layout.packedTagPrefix(target);
    const generationMarker = this.layout.markerKey(target);
    const calls: PackedCall[] = [];
    for (const [bucket, rows] of byBucket(encodedEntities, layout.buckets)) {
      const bucketTag = `${tag}${bucket}}`;
      const slot = this.clustered ? hashSlot(bucketTag) : 0;
      const marker = this.clustered ? this.layout.bucketMarkerKey(target, bucket) : generationMarker;
      const uncounted = this.layout.uncountedKey(marker);
      for (let from = 0; from < rows.length; from += perCall) {
        const to = Math.min(from + perCall, rows.length);
        let args: (string | Buffer)[] | undefined;
        const add = (pipeline: ChainableCommander) => {
          if (!args) {
            args = [String(to - from + 2), marker, uncounted];
            for (let j = from; j < to; j++) args.push(bucketTag + encodedEntities[rows[j]!]!);
            rowArgs(args, rows, from, to);
          }
          (pipeline as unknown as Record<string, ScriptCommand>)[command]!(args);
        };
        const plain = plainRow && ((p: PlainRows) => {
          for (let j = from; j < to; j++) plainRow(p, bucketTag + encodedEntities[rows[j]!]!, rows[j]!);
        });
        calls.push({ rows: to - from, slot, add, ...(plain ? { plain } : {}) });
      }
    }
    const counts = { written: 0, skipped: 0, expired: 0 };
    const plainFence = plainRow && { marker: generationMarker, countKey: this.layout.plainCountKey(generationMarker) };
    await this.runCalls(operation, calls, plainFence, (result) => addWriteCounts(counts, result));
    return counts;
  }

  /**
   * writeNewRows of rows packed from Arrow (arrow-row-packer.ts): the fenced write with each
   * call's rows in one argument (packed-fresh-write-blob.lua.ts), in writeInBucketCalls' calls; the
   * calls sent copy their rows into one buffer per writeNewRows, each call a view of it. (Tried in
   * session 8 for Redis' sake: no measurable gain there; session 11 measured the worker's CPU:
   * -1.0 to -1.6 us per row against an expiry and a row argument per row, bench/build-write.ts, so
   * it is the script's only fenced write from Arrow.) Written plainly where it can be (runCalls),
   * each row's bytes then going from the packed rows straight into the RESP buffer.
   */
  private async writeArrowPacked(target: OnlineTarget, layout: GenerationLayout, rows: OnlineColumns, packed: PackedRows, graceSeconds: number): Promise<WriteResult> {
    for (const [i, why] of packed.refused) throw new TypeError(`feature view '${target.view}', entity ${rows.keys[i]!}, ${why}`);
    const expiryOf = (i: number) => rowExpiresAt(target.ttlSeconds, rows.eventTimes[i]!, graceSeconds);
    const startOf = (i: number) => (i === 0 ? 0 : packed.ends[i - 1]!);
    // The calls' rows in one buffer (BLOB_ROW_HEADER_BYTES + the row each), each call a view of it; made when a call is first sent.
    let blob: Buffer | undefined;
    let blobAt = 0;
    return this.writeInBucketCalls(
      'writeNewRows',
      target,
      layout,
      rows.keys,
      PACKED_FRESH_WRITE_BLOB_COMMAND,
      (args, indices, from, to) => {
        blob ??= Buffer.allocUnsafe(rows.keys.length * BLOB_ROW_HEADER_BYTES + (packed.ends.at(-1) ?? 0));
        const callStart = blobAt;
        for (let j = from; j < to; j++) {
          const i = indices[j]!;
          blob.writeDoubleBE(expiryOf(i), blobAt);
          blob.writeUInt32BE(packed.ends[i]! - startOf(i), blobAt + 8);
          blobAt = BLOB_ROW_HEADER_BYTES + blobAt + packed.bytes.copy(blob, blobAt + BLOB_ROW_HEADER_BYTES, startOf(i), packed.ends[i]!);
        }
        args.push(blob.subarray(callStart, blobAt));
      },
      (plain, key, i) => plain.put(key, packed.bytes, startOf(i), packed.ends[i]!, expiryOf(i)),
    );
  }

  /**
   * Calls in pipelines of about `writeChunkSize` rows, `writeChunksInFlight` pipelines at once;
   * `onResult` per call, in order. With `plainFence` (the rebuild's fenced write), a chunk whose
   * calls all have plain rows is first written plainly behind that fence (writePlainChunk), one
   * result for all its calls, and sent as its script calls only when that could not be done.
   */
  private async runCalls(operation: string, calls: readonly PackedCall[], plainFence: PlainFence | undefined, onResult: (result: unknown) => void): Promise<void> {
    const chunkSize = this.options.writeChunkSize ?? DEFAULT_WRITE_CHUNK_SIZE;
    const inFlight = this.options.writeChunksInFlight ?? DEFAULT_WRITE_CHUNKS_IN_FLIGHT;
    if (!(chunkSize >= 1 && inFlight >= 1)) throw new RangeError(`writeChunkSize and writeChunksInFlight must be >= 1`);
    const chunks: (readonly PackedCall[])[] = [];
    for (let i = 0; i < calls.length; ) {
      const chunk: PackedCall[] = [];
      let rows = 0;
      while (i < calls.length && (chunk.length === 0 || rows + calls[i]!.rows <= chunkSize)) {
        rows += calls[i]!.rows;
        chunk.push(calls[i++]!);
      }
      chunks.push(chunk);
    }
    if (chunks.length === 0) return;
    await this.connected(operation);
    let next = 0;
    let failed = false;
    const results = new Array<unknown[]>(chunks.length);
    const worker = async (): Promise<void> => {
      while (!failed && next < chunks.length) {
        const at = next++;
        try {
          const chunk = chunks[at]!;
          const plain = plainFence && (await this.writePlainChunk(operation, plainFence, chunk));
          if (plain) results[at] = [plain];
          else {
            if (plainFence) for (const call of chunk) this.buildWritePaths.scriptRows += call.rows;
            results[at] = await this.execBySlot(operation, chunk);
          }
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(inFlight, chunks.length) }, worker));
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;
    for (const chunk of results) for (const result of chunk) onResult(result);
  }

  /**
   * A chunk of the rebuild's fenced write as one MULTI / EXEC behind the generation marker
   * (fenced-plain-write.ts), on a connection of its own: [written, 0, expired, 1], or undefined
   * when it cannot be (a Cluster, plainBuildWrite false) or was not (the fence closed or touched,
   * a row refused): the caller then sends the chunk's script calls, which decide again in Redis.
   */
  private async writePlainChunk(operation: string, fence: PlainFence, chunk: readonly PackedCall[]): Promise<[number, number, number, number] | undefined> {
    if (!this.plainConnections || chunk.some((call) => !call.plain)) return undefined;
    const plain = new PlainRows(Date.now());
    for (const call of chunk) call.plain!(plain);
    let outcome;
    try {
      outcome = await this.plainConnections.use((connection) => writePlainBehindFence(connection, fence, plain, this.options.afterFenceRead), this.options.commandTimeoutMs ?? 10_000);
    } catch (error) {
      throw this.failure(operation, error);
    }
    if (typeof outcome === 'string') return undefined;
    this.buildWritePaths.plainRows += plain.rows;
    return [outcome.written, 0, outcome.expired, 1];
  }

  private async replacePackedRow(
    target: OnlineTarget,
    layout: GenerationLayout,
    entityKey: EntityKey,
    expected: { readonly eventTime: number; readonly createdTime: number } | null,
    row: OnlineRow | null,
  ): Promise<'written' | 'deleted' | 'expired' | 'conflict'> {
    const encoded = encodeEntityOf(target, entityKey);
    const countKey = this.clustered ? this.layout.bucketMarkerKey(target, entityBucket(encoded, layout.buckets)) : this.layout.markerKey(target);
    const args: (string | Buffer)[] = [
      this.layout.packedRowKey(target, encoded, layout.buckets),
      countKey,
      this.layout.uncountedKey(countKey),
      expected ? String(expected.eventTime) : '',
      expected ? String(expected.createdTime) : '',
      row ? 'row' : 'none',
    ];
    if (row) {
      const codec = await this.packedCodec(target, layout, true);
      const graceSeconds = this.options.expiryGraceSeconds ?? defaultExpiryGraceSeconds(target.ttlSeconds);
      args.push(...packRow(target, codec, graceSeconds, describeKey(entityKey), row.eventTime, row.createdTime, (f) => row.values[codec.features[f]!.name]));
    }
    const result = await this.call('replaceRow', () => (this.redis as unknown as Record<string, (args: (string | Buffer)[]) => Promise<number>>)[PACKED_REPLACE_ROW_COMMAND]!(args));
    if (result === REPLACE_ROW_RESULT.written) return 'written';
    if (result === REPLACE_ROW_RESULT.deleted) return 'deleted';
    if (result === REPLACE_ROW_RESULT.expired) return 'expired';
    return 'conflict';
  }

  /**
   * One round trip for all reads: layout 2's rows in one MGET (all views of the request; a plain
   * command when every view is layout 2, on a Cluster one MGET per slot and a pipeline per node),
   * layout 1's as HMGETs (event time, created time, the features asked for) in one pipeline with it.
   */
  async readRows(reads: readonly OnlineRead[]): Promise<(OnlineRow | null)[][]> {
    try {
      return await this.readRowsOnce(reads);
    } catch (error) {
      if (!(error instanceof PackedRowTooNew)) throw error;
      // A row packed with features appended since this process read the packing: read it again.
      for (const read of reads) this.layouts.delete(this.layout.generationPrefix(read.target));
      return this.readRowsOnce(reads);
    }
  }

  private async readRowsOnce(reads: readonly OnlineRead[]): Promise<(OnlineRow | null)[][]> {
    if (reads.every((read) => read.entityKeys.length === 0)) return reads.map(() => []);
    const shapes = new Array<ReadShape>(reads.length);
    for (let r = 0; r < reads.length; r++) shapes[r] = this.readShapes.get(reads[r]!.target) ?? (await this.readShapeOf(reads[r]!.target));
    const packedKeys: string[] = [];
    let pipeline: ChainableCommander | undefined;
    const plans = reads.map((read, r) => {
      const shape = shapes[r]!;
      const { codec } = shape;
      if (codec) {
        const { names, wanted } = shape.columnsOf(read);
        const at = packedKeys.length;
        const { tagPrefix } = shape;
        const { buckets } = shape.layout;
        const joinKeys = read.target.joinKeys;
        for (const entityKey of read.entityKeys) packedKeys.push(packedRowKeyAt(tagPrefix, encodeEntityKey(entityKey, joinKeys), buckets));
        return { kind: 'packed', read, codec, wanted, names, at } as const;
      }
      pipeline ??= this.redis.pipeline();
      const features = read.features ? pickFeatures(read.target, read.features) : codecsOf(read.target.features);
      const fields = [...TIME_FIELDS, ...features.map((f) => f.name)];
      const rowPrefix = this.layout.rowKeyPrefix(read.target);
      const at = pipeline.length;
      for (const entityKey of read.entityKeys) pipeline.hmget(rowPrefix + encodeEntityKey(entityKey, read.target.joinKeys), ...fields);
      return { kind: 'hashes', read, features, at } as const;
    });
    let results: unknown[] = [];
    let packed: (Buffer | null)[] = [];
    if (this.clustered) {
      // Layout 2 only (generationLayout refuses layout 1 here): one MGET per slot, a pipeline per node.
      await this.connected('readRows');
      packed = await this.mgetBySlot('readRows', packedKeys);
    } else if (!pipeline) {
      // Layout 2 only: one MGET, sent as a plain command (an ioredis pipeline costs more to build
      // than the MGET itself, and kept the request's objects alive longer).
      packed = await this.call('readRows', () => this.redis.mgetBuffer(packedKeys));
    } else {
      await this.connected('readRows');
      if (packedKeys.length > 0) pipeline.mgetBuffer(...packedKeys);
      results = await this.exec('readRows', pipeline);
      packed = packedKeys.length > 0 ? (results[results.length - 1] as (Buffer | null)[]) : [];
    }
    return plans.map((plan) => {
      if (plan.kind === 'hashes') {
        const { features, at } = plan;
        return plan.read.entityKeys.map((entityKey, j) => decodeRow(entityKey, features, results[at + j] as (string | null)[]));
      }
      const { codec, wanted, names, at } = plan;
      return plan.read.entityKeys.map((entityKey, j) => {
        const bytes = packed[at + j];
        return bytes ? packedRowOf(entityKey, codec, names, wanted, bytes) : null;
      });
    });
  }

  /**
   * What a read of a target needs that does not change between reads (serving's hot path): its
   * generation's layout and packing codec, the key's tag prefix, and per list of features asked
   * for, their names and places in the packing. Kept per target object while the generation's
   * layout is the one this process knows (`layouts`); a target whose packing lacks one of its
   * features is not kept, so each read looks for it in the marker again, as before.
   */
  private async readShapeOf(target: OnlineTarget): Promise<ReadShape> {
    const layout = await this.generationLayout(target);
    const prefix = this.layout.generationPrefix(target);
    const codec = layout.version === 2 ? await this.packedCodec(target, layout, false) : undefined;
    const shape = new ReadShape(target, layout, codec, this.layout.packedTagPrefix(target), () => this.layouts.get(prefix) === layout);
    if (this.layouts.get(prefix) === layout && (!codec || target.features.every((f) => codec.features.some((g) => g.name === f.name)))) {
      this.readShapes.set(target, shape);
    }
    return shape;
  }

  /** The packed-row codec of a target's features (kept per feature list: reads are hot). */
  private packedCodecOf(target: OnlineTarget): PackedRowCodec {
    let codec = this.packedCodecs.get(target.features);
    if (!codec) {
      codec = new PackedRowCodec(checkedFeatures(target.features));
      this.packedCodecs.set(target.features, codec);
    }
    return codec;
  }

  /**
   * Compare script calls of `rowsPerCompare` rows (compare-rows.lua.ts), all in one pipeline.
   * The expected fields are encoded as writeRows encodes them; a value its codec refuses cannot
   * be stored, so its row is reported as differing (or absent).
   */
  async compareRows(target: OnlineTarget, rows: OnlineColumns): Promise<Uint8Array> {
    const n = rows.keys.length;
    const out = new Uint8Array(n);
    if (n === 0) return out;
    const perCall = this.options.rowsPerCompare ?? DEFAULT_ROWS_PER_COMPARE;
    if (!(perCall >= 1)) throw new RangeError(`rowsPerCompare must be >= 1`);
    const layout = await this.generationLayout(target);
    if (layout.version === 2) return this.comparePacked(target, layout, rows, perCall, out);
    const rowPrefix = this.layout.rowKeyPrefix(target);
    const features = codecsOf(target.features).map((f) => ({ ...f, column: rows.values[f.name] }));
    const fieldArgs = [String(TIME_FIELDS.length + features.length), ...TIME_FIELDS, ...features.map((f) => f.name)];
    const pipeline = this.redis.pipeline();
    const nullsOf = new Array<string>(fieldArgs.length - 1).fill('0');
    for (let from = 0; from < n; from += perCall) {
      const to = Math.min(from + perCall, n);
      const keys = new Array<string>(to - from);
      const argv: string[] = [];
      for (let i = from; i < to; i++) {
        keys[i - from] = rowPrefix + rows.keys[i]!;
        const nullsAt = argv.push('') - 1;
        let nulls = false;
        argv.push(String(rows.eventTimes[i]), String(rows.createdTimes[i]));
        for (let f = 0; f < features.length; f++) {
          const { codec, column } = features[f]!;
          const value = column?.[i];
          let encoded: string | null = null;
          if (value !== null && value !== undefined) {
            try {
              encoded = codec.encode(value);
            } catch {
              // Cannot have been written: the row differs (or is absent).
              nulls = true;
              nullsOf[TIME_FIELDS.length + f] = '2';
              continue;
            }
          }
          if (encoded === null) {
            nulls = true;
            nullsOf[TIME_FIELDS.length + f] = '1';
          } else argv.push(encoded);
        }
        if (nulls) {
          argv[nullsAt] = nullsOf.join('');
          nullsOf.fill('0');
        }
      }
      (pipeline as unknown as WithCompareRows)[COMPARE_ROWS_COMMAND]([String(keys.length), ...keys, ...fieldArgs, ...argv]);
    }
    await this.connected('compareRows');
    let at = 0;
    for (const result of await this.exec('compareRows', pipeline)) {
      const codes = result as string;
      for (let i = 0; i < codes.length; i++) out[at++] = codes.charCodeAt(i) - 48;
    }
    if (at !== n) throw this.failure('compareRows', new Error(`${at} answers for ${n} rows`));
    return out;
  }

  /**
   * Layout 2's compare: each expected row packed as writeNewRows packs it (from Arrow when the
   * rows come with their source), then an MGET of the stored rows, calls of `perCall` keys of one
   * bucket in one pipeline, compared byte for byte here (sameAsStored): Redis does a lookup per
   * key and no script; this process one Buffer comparison per row.
   */
  private async comparePacked(target: OnlineTarget, layout: GenerationLayout, rows: OnlineColumns, perCall: number, out: Uint8Array): Promise<Uint8Array> {
    const codec = await this.packedCodec(target, layout, false);
    const packed = rows.source ? packArrowRows(codec, featureNamesOf(target), rows.source, rows.eventTimes, rows.createdTimes) : packColumns(codec, rows);
    const tag = this.layout.packedTagPrefix(target);
    const order: number[] = [];
    const calls: SlotCommand[] = [];
    if (!this.clustered) {
      // One slot: MGETs of STANDALONE_MGET_KEYS keys in the rows' order, not one per bucket (a
      // 2M-entity verify sent 32k MGETs of ~62 keys; ioredis' cost is per command).
      for (let from = 0; from < rows.keys.length; from += STANDALONE_MGET_KEYS) {
        const to = Math.min(from + STANDALONE_MGET_KEYS, rows.keys.length);
        const keys = new Array<string>(to - from);
        for (let i = from; i < to; i++) {
          keys[i - from] = packedRowKeyAt(tag, rows.keys[i]!, layout.buckets);
          order.push(i);
        }
        calls.push({ slot: 0, add: (pipeline) => pipeline.mgetBuffer(keys) });
      }
    }
    for (const [bucket, indices] of this.clustered ? byBucket(rows.keys, layout.buckets) : []) {
      const bucketTag = `${tag}${bucket}}`;
      const slot = hashSlot(bucketTag);
      for (let from = 0; from < indices.length; from += perCall) {
        const to = Math.min(from + perCall, indices.length);
        const keys = new Array<string>(to - from);
        for (let j = from; j < to; j++) {
          keys[j - from] = bucketTag + rows.keys[indices[j]!]!;
          order.push(indices[j]!);
        }
        calls.push({ slot, add: (pipeline) => pipeline.mgetBuffer(keys) });
      }
    }
    await this.connected('compareRows');
    let at = 0;
    for (const result of await this.execBySlot('compareRows', calls)) {
      for (const stored of result as (Buffer | null)[]) {
        const i = order[at++]!;
        out[i] = sameAsStored(packed, i, stored);
      }
    }
    if (at !== rows.keys.length) throw this.failure('compareRows', new Error(`${at} answers for ${rows.keys.length} rows`));
    return out;
  }

  /**
   * Writes the marker when there is none, recording the layout new generations get (layout and
   * buckets); an existing marker is left as it is (its applied seq and its layout).
   */
  async markGeneration(target: OnlineTarget): Promise<void> {
    const fields = [MARKER_CREATED_FIELD, new Date().toISOString()];
    if (this.newLayout.version === 2) {
      checkedFeatures(target.features);
      fields.push(MARKER_LAYOUT_FIELD, '2', MARKER_BUCKETS_FIELD, String(this.newLayout.buckets), MARKER_FEATURES_FIELD, packingToMarker(target.features));
    }
    const key = this.layout.markerKey(target);
    // Layout 2 counts its row keys on the marker, on a Cluster on each bucket's marker.
    const counts = this.newLayout.version === 2 ? '1' : '0';
    const created = await this.call('markGeneration', () => (this.redis as unknown as WithMarkGeneration)[MARK_GENERATION_COMMAND](key, this.layout.uncountedKey(key), this.clustered ? '0' : counts, ...fields));
    if (!this.clustered) return;
    // Cluster: every bucket's marker (fence open: applied 0), created where missing, never reset;
    // counting from 0 only when this call created the generation's marker (a retry after a crash
    // between the two leaves those buckets uncounted: counted by SCAN).
    const layout = await this.generationLayout(target);
    const countBuckets = created === 1 && layout.version === 2 ? counts : '0';
    await this.execBySlot(
      'markGeneration',
      this.bucketMarkers(target, layout).map(({ key: bucketKey, slot }) => ({
        slot,
        add: (p) => (p as unknown as WithMarkGeneration)[MARK_GENERATION_COMMAND](bucketKey, this.layout.uncountedKey(bucketKey), countBuckets, MARKER_APPLIED_FIELD, '0'),
      })),
    );
  }

  /**
   * Layout 2: the count of the generation's row keys its writes keep (packed-write-many.lua.ts),
   * summed over the bucket markers on a Cluster: at least the number of row keys Granary's writes
   * created and have not deleted. Undefined when it is not kept (layout 1, a generation marked by
   * older code, a marker recreated after rows were written without it): count by SCAN then.
   */
  async countedRowKeys(target: OnlineTarget): Promise<number | undefined> {
    const layout = await this.generationLayout(target);
    if (layout.version !== 2) return undefined;
    if (!this.clustered) {
      // The marker's count, plus the plain build write's beside it (fenced-plain-write.ts; none yet: 0).
      const marker = this.layout.markerKey(target);
      const [rows, plain] = (await this.exec('countedRowKeys', this.redis.pipeline().hget(marker, MARKER_ROWS_FIELD).get(this.layout.plainCountKey(marker)))) as [string | null, string | null];
      return rows === null ? undefined : Number(rows) + Number(plain ?? 0);
    }
    const counts = await this.execBySlot('countedRowKeys', this.bucketMarkers(target, layout).map(({ key, slot }) => ({ slot, add: (p) => p.hget(key, MARKER_ROWS_FIELD) })));
    let total = 0;
    for (const count of counts) {
      if (count === null || count === undefined) return undefined;
      total += Number(count);
    }
    return total;
  }

  /** Cluster: the marker key of each bucket of a layout-2 generation, with its slot. */
  private bucketMarkers(target: GenerationRef, layout: GenerationLayout): { key: string; slot: number }[] {
    return Array.from({ length: layout.buckets }, (_, bucket) => {
      const key = this.layout.bucketMarkerKey(target, bucket);
      return { key, slot: hashSlot(key) };
    });
  }

  async appliedSeq(target: GenerationRef): Promise<number | null> {
    const key = this.layout.markerKey(target);
    const [exists, applied] = await this.exec('appliedSeq', this.redis.pipeline().exists(key).hget(key, MARKER_APPLIED_FIELD));
    if (exists !== 1) return null;
    if (!this.clustered) return Number(applied ?? 0);
    // Cluster: the lowest bucket's. A bucket's marker is raised after its rows on its node's
    // replication stream, so a promoted replica that missed writes has buckets behind the others
    // (a bucket marker gone counts as nothing applied).
    const layout = await this.generationLayout(target);
    const markers = this.bucketMarkers(target, layout);
    const seqs = await this.execBySlot('appliedSeq', markers.map(({ key: bucketKey, slot }) => ({ slot, add: (p) => p.hget(bucketKey, MARKER_APPLIED_FIELD) })));
    return Math.min(...seqs.map((seq) => Number(seq ?? 0)));
  }

  async recordApplied(target: GenerationRef, seq: number): Promise<number | null> {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new TypeError(`applied seq must be a whole number >= 0, got ${seq}`);
    const stored = await this.call('recordApplied', () =>
      (this.redis as unknown as WithRecordApplied)[RECORD_APPLIED_COMMAND](this.layout.markerKey(target), String(seq)),
    );
    if (stored < 0 || !this.clustered) return stored < 0 ? null : stored;
    // Cluster: every bucket's marker too (created where a failover lost it: the caller wrote every
    // commit up to seq on the masters it holds the run ids of), pipelined per node.
    const layout = await this.generationLayout(target);
    const commands: SlotCommand[] = [];
    for (const { key, slot } of this.bucketMarkers(target, layout)) {
      commands.push({ slot, add: (p) => p.hsetnx(key, MARKER_APPLIED_FIELD, '0') });
      commands.push({ slot, add: (p) => (p as unknown as WithRecordApplied)[RECORD_APPLIED_COMMAND](key, String(seq)) });
    }
    const results = await this.execBySlot('recordApplied', commands);
    return Math.min(...results.filter((_, i) => i % 2 === 1).map(Number));
  }

  /** Redis' run_id; on Cluster the masters' run ids, sorted and joined (a promotion changes them). */
  async instanceId(): Promise<string> {
    const nodes: (Redis | Cluster)[] = this.clustered ? (await this.connected('instanceId'), (this.redis as Cluster).nodes('master')) : [this.redis];
    if (nodes.length === 0) throw this.failure('instanceId', new Error('no master known'));
    const runIds = await Promise.all(
      nodes.map(async (node) => {
        const info = await this.call('instanceId', () => node.info('server'));
        const runId = /^run_id:(\w+)/m.exec(info)?.[1];
        if (!runId) throw this.failure('instanceId', new Error('INFO server has no run_id'));
        return runId;
      }),
    );
    return runIds.sort().join(',');
  }

  async hasGenerationMarker(target: GenerationRef): Promise<boolean> {
    return (await this.call('hasGenerationMarker', () => this.redis.exists(this.layout.markerKey(target)))) === 1;
  }

  /**
   * SCANs the generation's row keys and reads them back (HMGET, pipelined per SCAN page). An
   * entity is yielded once even if SCAN returns its key twice (that costs a set of the keys
   * seen). Rows Redis has expired are not returned.
   */
  async *scanRows(target: OnlineTarget, batchSize = 1000): AsyncIterable<OnlineRow[]> {
    const layout = await this.generationLayout(target);
    const features = codecsOf(target.features);
    const fields = [...TIME_FIELDS, ...features.map((f) => f.name)];
    let codec = layout.version === 2 ? await this.packedCodec(target, layout, false) : this.packedCodecOf(target);
    const names = target.features.map((f) => f.name);
    let wanted = names.map((name) => codec.features.findIndex((g) => g.name === name));
    const rowPrefix = this.layout.rowKeyPrefix(target);
    const seen = new Set<string>();
    let batch: OnlineRow[] = [];
    const pattern = layout.version === 2 ? this.layout.packedRowPattern(target) : this.layout.rowPattern(target);
    for await (const keys of this.scanKeys('scanRows', pattern)) {
      const fresh = keys.filter((key) => !seen.has(key));
      if (fresh.length === 0) continue;
      for (const key of fresh) seen.add(key);
      if (layout.version === 2) {
        const values = this.clustered ? await this.mgetBySlot('scanRows', fresh) : ((await this.exec('scanRows', this.redis.pipeline().mgetBuffer(...fresh)))[0] as (Buffer | null)[]);
        for (const [i, bytes] of values.entries()) {
          if (!bytes) continue;
          const entityKey = this.layout.entityKeyOfPacked(target, fresh[i]!);
          try {
            batch.push(packedRowOf(entityKey, codec, names, wanted, bytes));
          } catch (error) {
            if (!(error instanceof PackedRowTooNew)) throw error;
            // Packed after features were appended: read the packing again.
            this.layouts.delete(this.layout.generationPrefix(target));
            codec = await this.packedCodec(target, await this.generationLayout(target), false);
            wanted = names.map((name) => codec.features.findIndex((g) => g.name === name));
            batch.push(packedRowOf(entityKey, codec, names, wanted, bytes));
          }
        }
      } else {
        const pipeline = this.redis.pipeline();
        for (const key of fresh) pipeline.hmget(key, ...fields);
        const results = await this.exec('scanRows', pipeline);
        fresh.forEach((key, i) => {
          const entityKey = decodeEntityKey(key.slice(rowPrefix.length), target.joinKeys);
          const row = decodeRow(entityKey, features, results[i] as (string | null)[]);
          if (row) batch.push(row);
        });
      }
      while (batch.length >= batchSize) {
        yield batch.slice(0, batchSize);
        batch = batch.slice(batchSize);
      }
    }
    if (batch.length > 0) yield batch;
  }

  async countRowKeys(target: OnlineTarget): Promise<number> {
    const layout = await this.generationLayout(target);
    const pattern = layout.version === 2 ? this.layout.packedRowPattern(target) : this.layout.rowPattern(target);
    let count = 0;
    for await (const keys of this.scanKeys('countRowKeys', pattern)) count += keys.length;
    return count;
  }

  /**
   * SCANs the generation's keys of its layout and unlinks them, then the marker. Without a marker
   * (its layout unknown) the keys of both layouts are dropped, and on a Cluster the bucket
   * markers too, in one SCAN pass (anyGenerationPattern) rather than one per kind.
   */
  async dropGeneration(target: GenerationRef): Promise<number> {
    const prefix = this.layout.generationPrefix(target);
    const marked = await this.hasGenerationMarker(target);
    const layout = marked ? await this.generationLayout(target) : undefined;
    const kinds: { pattern: string; prefix: string }[] = [];
    if (layout?.version !== 2) kinds.push({ pattern: this.layout.generationPattern(target), prefix: this.layout.generationPrefix(target) });
    if (layout?.version !== 1) kinds.push({ pattern: this.layout.packedRowPattern(target), prefix: this.layout.packedTagPrefix(target) });
    if (this.clustered) kinds.push({ pattern: this.layout.bucketMarkerPattern(target), prefix: this.layout.bucketMarkerTagPrefix(target) });
    // Several kinds: one pass with a pattern that matches them all (a SCAN costs Redis per key in
    // the database, whatever matches), keeping only the keys under one of their prefixes.
    const pattern = kinds.length === 1 ? kinds[0]!.pattern : this.layout.anyGenerationPattern(target);
    const keep = (key: string) => kinds.length === 1 || kinds.some(({ prefix }) => key.startsWith(prefix));
    let dropped = 0;
    for await (const page of this.scanKeys('dropGeneration', pattern)) {
      const keys = page.filter(keep);
      if (keys.length === 0) continue;
      if (!this.clustered) dropped += await this.call('dropGeneration', () => this.redis.unlink(...keys));
      else {
        const groups = [...groupKeysBySlot(keys)];
        const counts = await this.execBySlot('dropGeneration', groups.map(([slot, group]) => ({ slot, add: (p) => p.unlink(...group) })));
        for (const n of counts) dropped += n as number;
      }
    }
    const marker = this.layout.markerKey(target);
    // The marker's uncounted and plain count keys are bookkeeping, not counted as the generation's keys.
    const bookkeeping = this.clustered ? [this.layout.uncountedKey(marker)] : [this.layout.uncountedKey(marker), this.layout.plainCountKey(marker)];
    const [markerDropped] = (await this.exec('dropGeneration', this.redis.pipeline().unlink(marker).unlink(...bookkeeping))) as [number, number];
    dropped += markerDropped;
    this.layouts.delete(prefix);
    return dropped;
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    this.plainConnections?.close();
    if (this.redis.status === 'end' || this.redis.status === 'wait') {
      this.redis.disconnect();
      return;
    }
    try {
      // Bounded: a Cluster's QUIT waits for every node connection, one of which may be stuck.
      await this.withDeadline(this.redis.quit());
    } catch {
      this.redis.disconnect();
    }
  }

  /** Pages of keys matching a pattern; SCAN may repeat a key across pages. The next page is asked for before this one is used. */
  private async *scanKeys(operation: string, pattern: string): AsyncIterable<string[]> {
    if (!this.clustered) {
      yield* this.scanNode(operation, this.redis as Redis, pattern);
      return;
    }
    // Cluster: every master holds some of the generation's slots.
    await this.connected(operation);
    const masters = (this.redis as Cluster).nodes('master');
    if (masters.length === 0) throw this.failure(operation, new Error('no master known'));
    for (const node of masters) yield* this.scanNode(operation, node, pattern);
  }

  private async *scanNode(operation: string, node: Redis, pattern: string): AsyncIterable<string[]> {
    const count = this.options.scanCount ?? 1000;
    const scan = (cursor: string) => this.call(operation, () => node.scan(cursor, 'MATCH', pattern, 'COUNT', count));
    let page = scan('0');
    for (;;) {
      const [cursor, keys] = await page;
      if (cursor !== '0') {
        page = scan(cursor);
        // Consumed on the next turn; a failure while this page is used is reported there.
        page.catch(() => undefined);
      }
      yield keys;
      if (cursor === '0') return;
    }
  }

  private async call<T>(operation: string, command: () => Promise<T>): Promise<T> {
    await this.connected(operation);
    try {
      return await this.withDeadline(command());
    } catch (error) {
      throw this.failure(operation, error);
    }
  }

  /**
   * Runs a pipeline; the first failed command fails the call, except, with `keepSlotMoves`, a
   * command refused because its slot is moving between Cluster nodes (slotMoving): its Error is
   * its result, for the caller to send again key by key.
   */
  private async exec(operation: string, pipeline: ChainableCommander, keepSlotMoves = false): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await this.withDeadline(pipeline.exec());
    } catch (error) {
      throw this.failure(operation, error);
    }
    if (!results) throw this.failure(operation, new Error('pipeline was discarded'));
    const out = new Array<unknown>(results.length);
    for (let i = 0; i < results.length; i++) {
      const [error, value] = results[i]!;
      if (error && !(keepSlotMoves && slotMoving(error))) throw this.failure(operation, error);
      out[i] = error ?? value;
    }
    return out;
  }

  /**
   * Commands as pipelines: one pipeline on a single Redis; on Cluster one per node (ioredis refuses
   * a pipeline whose keys span nodes), the nodes in parallel, so one round trip per node. Results
   * in the commands' order; the first failed command fails the call.
   */
  private async execBySlot(operation: string, commands: readonly SlotCommand[], keepSlotMoves = false): Promise<unknown[]> {
    if (!this.clustered) {
      const pipeline = this.redis.pipeline();
      for (const command of commands) command.add(pipeline);
      return this.exec(operation, pipeline);
    }
    if (commands.length === 0) return [];
    await this.connected(operation);
    const slots = (this.redis as Cluster).slots;
    const byNode = new Map<string, number[]>();
    for (let i = 0; i < commands.length; i++) {
      const node = slots[commands[i]!.slot]?.join(';') ?? '';
      const group = byNode.get(node);
      if (group) group.push(i);
      else byNode.set(node, [i]);
    }
    const out = new Array<unknown>(commands.length);
    await Promise.all(
      [...byNode.values()].map(async (indices) => {
        const pipeline = this.redis.pipeline();
        for (const i of indices) commands[i]!.add(pipeline);
        let results: unknown[];
        try {
          results = await this.exec(operation, pipeline, keepSlotMoves);
        } catch (error) {
          if (!(error instanceof OnlineStoreError && error.message.includes('same slots allocation group'))) throw error;
          // The client's slot map moved under the grouping (a reshard): one pipeline per command.
          results = await Promise.all(
            indices.map(async (i) => {
              const single = this.redis.pipeline();
              commands[i]!.add(single);
              return (await this.exec(operation, single, keepSlotMoves))[0];
            }),
          );
        }
        for (let j = 0; j < indices.length; j++) out[indices[j]!] = results[j];
      }),
    );
    return out;
  }

  /**
   * Cluster: MGET of keys of many slots, one MGET per slot, a pipeline per node (execBySlot);
   * values in the keys' order. A slot being resharded refuses an MGET whose keys are not all on
   * one side yet (TRYAGAIN) or redirects it (ASK, MOVED): its keys are read again one GET each,
   * which the Cluster client follows to wherever each key is (measured with
   * test/pipelines/cluster-reshard.test.ts: without it, reads of moving slots failed).
   */
  private async mgetBySlot(operation: string, keys: readonly string[]): Promise<(Buffer | null)[]> {
    const out = new Array<Buffer | null>(keys.length).fill(null);
    if (keys.length === 0) return out;
    const groups = [...groupKeysBySlot(keys, true)];
    const results = await this.execBySlot(
      operation,
      groups.map(([slot, indices]) => ({ slot, add: (p) => p.mgetBuffer(...indices.map((i) => keys[i]!)) })),
      true,
    );
    const moving: number[] = [];
    groups.forEach(([, indices], g) => {
      const values = results[g];
      if (values instanceof Error) moving.push(...indices);
      else for (let j = 0; j < indices.length; j++) out[indices[j]!] = (values as (Buffer | null)[])[j]!;
    });
    if (moving.length > 0) {
      const values = await this.call(operation, () => Promise.all(moving.map((i) => this.redis.getBuffer(keys[i]!))));
      moving.forEach((i, j) => (out[i] = values[j]!));
    }
    return out;
  }

  /**
   * Rejects when Redis has not answered in time. The commands stay in ioredis' queue and settle
   * later (or fail when the connection drops); their replies are ignored.
   */
  private withDeadline<T>(promise: Promise<T>): Promise<T> {
    const ms = this.options.commandTimeoutMs ?? 10_000;
    if (ms === 0) return promise;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms (commandTimeoutMs)`)), ms);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
  }

  /** The first call connects (lazily, so building a store has no side effect). */
  private async connected(operation: string): Promise<void> {
    if (this.redis.status === 'wait') {
      this.connecting = this.redis.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    if (this.connecting) {
      try {
        await this.connecting;
      } catch (error) {
        throw this.failure(operation, error);
      }
    }
  }

  private failure(operation: string, error: unknown): OnlineStoreError {
    if (error instanceof OnlineStoreError) return error;
    // Cluster: a node gone or the cluster down may mean a promotion: learn the new masters now
    // rather than at the next periodic refresh (ioredis runs one refresh at a time).
    if (this.clustered) (this.redis as Cluster).refreshSlotsCache(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    let reason = message;
    if (message.startsWith("Stream isn't writeable") || message.startsWith("Cluster isn't ready")) reason = 'not connected (fail-fast: calls are not queued)';
    else if (error instanceof Error && error.name === 'MaxRetriesPerRequestError') reason = 'not connected, gave up after reconnecting';
    else if (message === 'Connection is closed.') reason = 'connection closed';
    const last = this.lastError?.message;
    if (last && last !== message) reason += ` (last connection error: ${last})`;
    const untrusted = untrustedCertificate(error) ?? untrustedCertificate(this.lastError);
    if (untrusted) reason = `${untrusted}; give the CA that signed it with online.tlsCa (GRANARY_REDIS_TLS_CA)`;
    return new OnlineStoreError(this.options.url, operation, error, reason);
  }
}

function codecsOf(features: OnlineTarget['features']): FeatureCodec[] {
  return features.map((f) => {
    if (f.name.startsWith('__')) throw new TypeError(`feature '${f.name}': names starting with '__' are reserved`);
    return { name: f.name, codec: valueCodec(f.type) };
  });
}

function pickFeatures(target: OnlineTarget, names: readonly string[]): FeatureCodec[] {
  return names.map((name) => ({ name, codec: valueCodec(featureOf(target, name).type) }));
}

/** The row's key; a key that does not fit the join keys is a TypeError naming the view. */
function rowKeyOf(target: OnlineTarget, rowPrefix: string, entityKey: EntityKey): string {
  try {
    return rowPrefix + encodeEntityKey(entityKey, target.joinKeys);
  } catch (error) {
    throw new TypeError(`feature view '${target.view}': ${(error as Error).message}`);
  }
}

/**
 * Appends a row as the scripts take it (put-row.lua.ts): event time, created time, expire-at,
 * the number of field/value pairs, then the pairs of its non-null features.
 */
function pushRowArgs(target: OnlineTarget, features: readonly FeatureCodec[], graceSeconds: number, row: OnlineRow, args: string[]): void {
  const { eventTime, createdTime } = row;
  if (!Number.isFinite(eventTime) || !Number.isFinite(createdTime)) {
    throw new TypeError(
      `feature view '${target.view}', entity ${describeKey(row.entityKey)}: eventTime and createdTime must be finite ms, got ${eventTime} and ${createdTime}`,
    );
  }
  args.push(String(eventTime), String(createdTime), String(rowExpiresAt(target.ttlSeconds, eventTime, graceSeconds)), '0');
  const countAt = args.length - 1;
  const values = row.values;
  let pairs = 0;
  for (const { name, codec } of features) {
    const value = values[name];
    if (value === null || value === undefined) continue;
    try {
      args.push(name, codec.encode(value));
    } catch (error) {
      throw new TypeError(
        `feature view '${target.view}', entity ${describeKey(row.entityKey)}, feature '${name}' (${codec.type}): ${(error as Error).message}`,
      );
    }
    pairs++;
  }
  args[countAt] = String(pairs);
}

/** pushRowArgs for row `i` of columns (OnlineColumns; `features` carry their column). */
function pushColumnArgs(
  target: OnlineTarget,
  features: readonly (FeatureCodec & { readonly column: readonly (FeatureValue | null)[] | undefined })[],
  graceSeconds: number,
  rows: OnlineColumns,
  i: number,
  args: string[],
): void {
  const eventTime = rows.eventTimes[i]!;
  const createdTime = rows.createdTimes[i]!;
  if (!Number.isFinite(eventTime) || !Number.isFinite(createdTime)) {
    throw new TypeError(`feature view '${target.view}', entity ${rows.keys[i]}: eventTime and createdTime must be finite ms, got ${eventTime} and ${createdTime}`);
  }
  args.push(String(eventTime), String(createdTime), String(rowExpiresAt(target.ttlSeconds, eventTime, graceSeconds)), '0');
  const countAt = args.length - 1;
  let pairs = 0;
  for (const { name, codec, column } of features) {
    const value = column?.[i];
    if (value === null || value === undefined) continue;
    try {
      args.push(name, codec.encode(value));
    } catch (error) {
      throw new TypeError(`feature view '${target.view}', entity ${rows.keys[i]}, feature '${name}' (${codec.type}): ${(error as Error).message}`);
    }
    pairs++;
  }
  args[countAt] = String(pairs);
}

/** A row from HMGET [event time, created time, ...features]; null when the key is absent. */
function decodeRow(entityKey: EntityKey, features: readonly FeatureCodec[], reply: readonly (string | null)[]): OnlineRow | null {
  const eventTime = reply[0];
  if (eventTime === null || eventTime === undefined) return null;
  const values: Record<string, FeatureValue | null> = {};
  for (let i = 0; i < features.length; i++) {
    const text = reply[i + 2];
    const { name, codec } = features[i]!;
    values[name] = text === null || text === undefined ? null : codec.decode(text);
  }
  return { entityKey, values, eventTime: Number(eventTime), createdTime: Number(reply[1] ?? 0) };
}

/** The target's features, checked as codecsOf checks them. */
function checkedFeatures(features: OnlineTarget['features']): OnlineTarget['features'] {
  codecsOf(features);
  return features;
}

/** The encoded entity (key-layout.ts); a key that does not fit the join keys is a TypeError naming the view. */
function encodeEntityOf(target: OnlineTarget, entityKey: EntityKey): string {
  try {
    return encodeEntityKey(entityKey, target.joinKeys);
  } catch (error) {
    throw new TypeError(`feature view '${target.view}': ${(error as Error).message}`);
  }
}

/** A row as the packed scripts take it: [expire at, packed row]; a bad row is a TypeError naming view, entity and feature. */
function packRow(
  target: OnlineTarget,
  codec: PackedRowCodec,
  graceSeconds: number,
  entity: string,
  eventTime: number,
  createdTime: number,
  valueAt: (feature: number) => FeatureValue | null | undefined,
): [string, Buffer] {
  if (!Number.isFinite(eventTime) || !Number.isFinite(createdTime)) {
    throw new TypeError(`feature view '${target.view}', entity ${entity}: eventTime and createdTime must be finite ms, got ${eventTime} and ${createdTime}`);
  }
  try {
    return [String(rowExpiresAt(target.ttlSeconds, eventTime, graceSeconds)), codec.encode(eventTime, createdTime, valueAt)];
  } catch (error) {
    throw new TypeError(`feature view '${target.view}', entity ${entity}, ${(error as Error).message}`);
  }
}

/** The names of the target's features (the view's): packArrowRows leaves any other column null. */
const featureNames = new WeakMap<OnlineTarget['features'], ReadonlySet<string>>();
function featureNamesOf(target: OnlineTarget): ReadonlySet<string> {
  let names = featureNames.get(target.features);
  if (!names) featureNames.set(target.features, (names = new Set(target.features.map((f) => f.name))));
  return names;
}

/** Indices of the encoded entities grouped by bucket, each group in order. */
function byBucket(encodedEntities: readonly string[], buckets: number): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < encodedEntities.length; i++) {
    const bucket = entityBucket(encodedEntities[i]!, buckets);
    const group = groups.get(bucket);
    if (group) group.push(i);
    else groups.set(bucket, [i]);
  }
  return groups;
}

/** A row from its packed bytes, with the features `names` (decoded at `wanted`, or all). */
function packedRowOf(entityKey: EntityKey, codec: PackedRowCodec, names: readonly string[], wanted: readonly number[] | undefined, bytes: Buffer): OnlineRow {
  const { eventTime, createdTime, values } = codec.decode(bytes, wanted);
  const byName: Record<string, FeatureValue | null> = {};
  for (let i = 0; i < names.length; i++) byName[names[i]!] = values[i]!;
  return { entityKey, values: byName, eventTime, createdTime };
}

/** Adds a write script's reply `{ written, skipped, expired, ... }` to the counts. */
function addWriteCounts(counts: { written: number; skipped: number; expired: number }, result: unknown): void {
  const [written, skipped, expired] = result as [number, number, number];
  counts.written += written;
  counts.skipped += skipped;
  counts.expired += expired;
}

/** A Cluster's refusal of a command whose slot is moving between nodes (resharding), to send again key by key. */
function slotMoving(error: Error): boolean {
  return /^(TRYAGAIN|ASK|MOVED) /.test(error.message);
}

function describeKey(entityKey: EntityKey): string {
  return `[${entityKey.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))).join(', ')}]`;
}

/** Keys grouped by Cluster slot: slot -> the keys (or with `indices`, their indices). */
function groupKeysBySlot(keys: readonly string[]): Map<number, string[]>;
function groupKeysBySlot(keys: readonly string[], indices: true): Map<number, number[]>;
function groupKeysBySlot(keys: readonly string[], indices?: true): Map<number, (string | number)[]> {
  const groups = new Map<number, (string | number)[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = hashSlot(keys[i]!);
    const group = groups.get(slot);
    const item = indices ? i : keys[i]!;
    if (group) group.push(item);
    else groups.set(slot, [item]);
  }
  return groups;
}
