import { encodeEntityKey } from '../stores/online/key-layout.ts';
import type { OnlineRead, OnlineRow, OnlineStore } from '../stores/online/online-store.ts';

/** The size and lifetime of the hot-key cache. */
export interface HotKeyCacheOptions {
  /** How long a row is reused, in ms (> 0). */
  readonly ttlMs: number;
  /** Entries kept at most; the oldest go first. Default 100000. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly row: OnlineRow | null;
  readonly expiresAt: number;
}

/**
 * An opt-in, in-process cache of online rows for entities read very often (off by default).
 * A row (or its absence) read from the online store is reused for `ttlMs`, so a hot entity costs
 * Redis one read per `ttlMs` per server process instead of one per request. Entries are keyed by
 * view version and online generation: a rebuild's cut-over invalidates them all at once. A cached
 * row can be up to `ttlMs` older than Redis; keep it short (tens to hundreds of ms).
 *
 * Misses are read together in one pipelined `readRows`, whole rows (every feature of the view),
 * so a cached row serves any subset of features.
 *
 * @example
 *   const cache = new HotKeyCache({ ttlMs: 100, maxEntries: 100_000 });
 *   const rows = await cache.readRows(online, [{ target, entityKeys: [['u1']] }]);
 */
export class HotKeyCache {
  private readonly entries = new Map<string, Entry>();
  readonly ttlMs: number;
  readonly maxEntries: number;
  hits = 0;
  misses = 0;

  constructor(options: HotKeyCacheOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`hot-key cache ttlMs must be > 0, got ${options.ttlMs}`);
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The same contract as OnlineStore.readRows; only the misses reach the store (one round trip). */
  async readRows(store: Pick<OnlineStore, 'readRows'>, reads: readonly OnlineRead[]): Promise<(OnlineRow | null)[][]> {
    const now = Date.now();
    const out = reads.map((read) => new Array<OnlineRow | null>(read.entityKeys.length));
    const missing: { read: OnlineRead; keys: string[]; at: number[]; out: (OnlineRow | null)[] }[] = [];
    reads.forEach((read, i) => {
      const { target } = read;
      const prefix = `${target.project}\n${target.view}\n${target.version}\n${target.generation}\n`;
      let miss: (typeof missing)[number] | undefined;
      read.entityKeys.forEach((entityKey, j) => {
        const key = prefix + encodeEntityKey(entityKey, target.joinKeys);
        const entry = this.entries.get(key);
        if (entry && entry.expiresAt > now) {
          this.hits++;
          out[i]![j] = entry.row;
          return;
        }
        this.misses++;
        miss ??= { read: { target, entityKeys: [] }, keys: [], at: [], out: out[i]! };
        (miss.read.entityKeys as unknown[]).push(entityKey);
        miss.keys.push(key);
        miss.at.push(j);
      });
      if (miss) missing.push(miss);
    });
    if (missing.length === 0) return out;
    const fetched = await store.readRows(missing.map((m) => m.read));
    const expiresAt = Date.now() + this.ttlMs;
    missing.forEach((m, i) => {
      m.keys.forEach((key, n) => {
        const row = fetched[i]![n] ?? null;
        m.out[m.at[n]!] = row;
        this.entries.delete(key);
        this.entries.set(key, { row, expiresAt });
      });
    });
    this.evict();
    return out;
  }

  clear(): void {
    this.entries.clear();
  }

  private evict(): void {
    let excess = this.entries.size - this.maxEntries;
    if (excess <= 0) return;
    for (const key of this.entries.keys()) {
      this.entries.delete(key);
      if (--excess <= 0) break;
    }
  }
}
