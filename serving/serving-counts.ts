import type { ServingCounters } from '../stores/online/redis-serving-counters.ts';
import { latencyField, statusField } from '../stores/online/redis-serving-counters.ts';
import { FEATURE_STATUSES, type FeatureStatus } from './feature-status.ts';
import type { ServedRead, ServingObserver } from './serving-observer.ts';

const STATUS_INDEX = Object.fromEntries(FEATURE_STATUSES.map((s, i) => [s, i])) as Record<FeatureStatus, number>;

/** Latency buckets (upper bounds, seconds), the request-duration histogram's (serving-metrics.ts). */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, Number.POSITIVE_INFINITY];

/**
 * The feature server's side of the shared serving counters (stores/online/redis-serving-counters.ts):
 * served values by (view, feature, status) and responses by (feature service, latency bucket),
 * per minute, added to Redis every `flushMs` so that every replica adds to the same numbers. On
 * the request's path: a push of the read's reference, and one bucket increment per response;
 * statuses are counted and sent at the flush, off the path. A failed flush keeps its counts for
 * the next one.
 *
 * @example
 *   const counts = new ServingCounts({ counters: new RedisServingCounters(onlineConnection(config)), project: 'fraud' });
 *   new FeatureServer({ ..., observers: [counts] });
 */
export class ServingCounts implements ServingObserver {
  private pendingReads: ServedRead[] = [];
  /** minute -> field -> count, not yet added. */
  private pending = new Map<number, Map<string, number>>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly fields = new Map<string, readonly string[]>();

  constructor(private readonly options: { readonly counters: ServingCounters; readonly project: string; readonly flushMs?: number; readonly maxReads?: number }) {
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 2000);
    this.timer.unref();
  }

  served(read: ServedRead): void {
    if (this.pendingReads.length < (this.options.maxReads ?? 100_000)) this.pendingReads.push(read);
  }

  timed(featureService: string, seconds: number): void {
    if (featureService === '') return;
    let b = 0;
    while (seconds > LATENCY_BUCKETS[b]!) b++;
    this.bump(Math.floor(Date.now() / 60_000), latencyField(featureService, LATENCY_BUCKETS[b]!), 1);
  }

  /** Counts the reads held and adds everything pending to Redis; resolves once sent (or failed, kept). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const [i, read] of reads.entries()) {
        this.countStatuses(read);
        // Let requests in between: counting is off their path, and must not stall it either.
        if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
      }
      const deltas = [...this.pending].map(([minute, counts]) => ({ minute, counts }));
      this.pending = new Map();
      if (deltas.length === 0) return;
      try {
        await this.options.counters.add(this.options.project, deltas);
      } catch {
        for (const d of deltas) for (const [field, n] of d.counts) this.bump(d.minute, field, n);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private countStatuses({ requestTime, table }: ServedRead): void {
    const minute = Math.floor(requestTime / 60_000);
    const byStatus = new Array<number>(FEATURE_STATUSES.length);
    table.columns.forEach((column, f) => {
      byStatus.fill(0);
      for (const s of column.statuses) byStatus[STATUS_INDEX[s]]!++;
      const fields = this.fieldsOf(table.featureRefs[f]!);
      for (let i = 0; i < byStatus.length; i++) if (byStatus[i]! > 0) this.bump(minute, fields[i]!, byStatus[i]!);
    });
  }

  /** The counter fields of a `view:feature` reference, one per status (cached: a few per feature). */
  private fieldsOf(ref: string): readonly string[] {
    let fields = this.fields.get(ref);
    if (!fields) {
      const at = ref.indexOf(':');
      fields = FEATURE_STATUSES.map((status) => statusField(ref.slice(0, at), ref.slice(at + 1), status));
      this.fields.set(ref, fields);
    }
    return fields;
  }

  private bump(minute: number, field: string, n: number): void {
    let counts = this.pending.get(minute);
    if (!counts) this.pending.set(minute, (counts = new Map()));
    counts.set(field, (counts.get(field) ?? 0) + n);
  }
}
