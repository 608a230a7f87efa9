import { Buffer } from 'node:buffer';
import { futureLimit, isFutureRow } from './future-event-time.ts';
import { convertRowsWhere, replaces } from './row-conversion.ts';
import { yieldToEventLoop } from './yield-to-event-loop.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { encodeEntityKey } from '../stores/online/key-layout.ts';
import type { OnlineRow, OnlineStore } from '../stores/online/online-store.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';
import { rowExpiresAt } from '../stores/online/row-expiry.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import { onlineTarget, registeredView } from './registered-view.ts';

/**
 * Invariant 4, checked: the online generation holds, entity by entity, the latest committed
 * offline row (greatest event time, then created time) of every commit up to the watermark.
 *
 * - missing: offline has a row the online store lacks (and Redis had no reason to expire it);
 * - stale: online holds an older row, or other values, than offline says;
 * - extra: online holds an entity offline never committed.
 * Rows from commits past the watermark (a materialization under way) count as `ahead`, not as
 * divergence.
 */
export interface VerifyReport extends ViewRef {
  readonly generation: number;
  readonly watermark: number;
  readonly latestSeq: number;
  readonly offlineEntities: number;
  readonly onlineEntities: number;
  readonly matching: number;
  readonly expired: number;
  readonly ahead: number;
  readonly missing: number;
  readonly stale: number;
  readonly extra: number;
  /** Committed rows with a time later than their commit's time + the skew: invalid, not expected online (future-event-time.ts). */
  readonly refused: number;
  /** A few examples of each divergence, for the message. */
  readonly examples: readonly string[];
  readonly ok: boolean;
}

export interface VerifyStores {
  readonly registry: Registry;
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
}

const MAX_EXAMPLES = 10;

export interface VerifyOptions {
  /** The generation to check; the active one by default (a rebuild checks its new one before the cut-over). */
  readonly generation?: number;
  readonly now?: number;
  /** The skew of the committed-row rule (ingest.maxFutureSkew); one hour by default. */
  readonly maxFutureSkewMs?: number;
}

export async function verifyView(stores: VerifyStores, ref: ViewRef, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { registry, offline, online } = stores;
  const now = options.now ?? Date.now();
  const { view } = await registeredView(registry, ref);
  const generation = options.generation ?? (await registry.activeGeneration(ref.view, ref.version)).generation;
  const watermark = await registry.watermark(ref.view, ref.version, generation);
  const latestSeq = await registry.latestCommitSeq(ref.view, ref.version);
  const target = onlineTarget(ref, view, generation);

  // Latest row per entity: up to the watermark (what must be online), and over every commit (one
  // map when the watermark is the latest commit). Keys and times first: only rows that replace
  // what a map holds are converted.
  const upToWatermark = new Map<string, OnlineRow>();
  const overAll = watermark >= latestSeq ? upToWatermark : new Map<string, OnlineRow>();
  let refused = 0;
  for (const commit of await registry.commits(ref.view, ref.version)) {
    const committed = commit.seq <= watermark;
    const limit = futureLimit(commit.committedAt, options.maxFutureSkewMs);
    for (const object of commit.objects) {
      for await (const { table } of offline.readTable(object.key)) {
        const wanted = (key: string, e: number, c: number) => {
          if (isFutureRow(e, c, limit)) {
            refused += 1;
            return false;
          }
          return replaces(e, c, overAll.get(key)) || (committed && replaces(e, c, upToWatermark.get(key)));
        };
        for (const { key, row } of convertRowsWhere(view, table, wanted)) {
          if (committed && replaces(row.eventTime, row.createdTime, upToWatermark.get(key))) upToWatermark.set(key, row);
          if (overAll !== upToWatermark && replaces(row.eventTime, row.createdTime, overAll.get(key))) overAll.set(key, row);
        }
        await yieldToEventLoop(); // let heartbeats through between row groups
      }
    }
  }

  let onlineEntities = 0;
  let matching = 0;
  let ahead = 0;
  let stale = 0;
  let extra = 0;
  const examples: string[] = [];
  const example = (text: string) => examples.length < MAX_EXAMPLES && examples.push(text);
  const seen = new Set<string>();
  for await (const batch of online.scanRows(target)) {
    for (const row of batch) {
      onlineEntities += 1;
      const key = encodeEntityKey(row.entityKey);
      seen.add(key);
      const actual = signature(row);
      const expected = upToWatermark.get(key);
      const newest = overAll.get(key);
      if (expected && signature(expected) === actual) matching += 1;
      else if (newest && signature(newest) === actual) ahead += 1;
      else if (!overAll.has(key)) {
        extra += 1;
        example(`extra: entity ${key} is online but was never committed offline`);
      } else {
        stale += 1;
        example(`stale: entity ${key} online ${describe(row)}, offline ${expected ? describe(expected) : 'nothing up to the watermark'}`);
      }
    }
  }
  let missing = 0;
  let expired = 0;
  for (const [key, expected] of upToWatermark) {
    if (seen.has(key)) continue;
    if (rowExpiresAt(view.ttlSeconds, expected.eventTime) <= now) expired += 1;
    else {
      missing += 1;
      example(`missing: entity ${key} (offline ${describe(expected)}) is not online`);
    }
  }
  return {
    ...ref,
    generation,
    watermark,
    latestSeq,
    offlineEntities: upToWatermark.size,
    onlineEntities,
    matching,
    expired,
    ahead,
    missing,
    stale,
    extra,
    refused,
    examples,
    ok: missing + stale + extra === 0,
  };
}

/** A row's times and values as one comparable string; null and absent features are the same (verify compares these). */
export function signature(row: OnlineRow): string {
  const values = Object.keys(row.values)
    .sort()
    .filter((name) => row.values[name] !== null && row.values[name] !== undefined)
    .map((name) => `${name}=${canonical(row.values[name]!)}`);
  return `${row.eventTime}|${row.createdTime}|${values.join(',')}`;
}

function canonical(value: FeatureValue | null): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `b64:${Buffer.from(value).toString('base64')}`;
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v)).join(';')}]`;
  return JSON.stringify(value);
}

export function describe(row: OnlineRow): string {
  return `event time ${new Date(row.eventTime).toISOString()}, created ${row.createdTime}`;
}
