import type { ServingCounters } from '../stores/online/redis-serving-counters.ts';
import { latencyField, statusField } from '../stores/online/redis-serving-counters.ts';
import type { ServedRead, ServingObserver } from './serving-observer.ts';

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
      for (const read of reads) this.countStatuses(read);
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
    table.columns.forEach((column, f) => {
      const ref = table.featureRefs[f]!;
      const at = ref.indexOf(':');
      const byStatus = new Map<string, number>();
      for (const s of column.statuses) byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
      for (const [status, n] of byStatus) this.bump(minute, statusField(ref.slice(0, at), ref.slice(at + 1), status), n);
    });
  }

  private bump(minute: number, field: string, n: number): void {
    let counts = this.pending.get(minute);
    if (!counts) this.pending.set(minute, (counts = new Map()));
    counts.set(field, (counts.get(field) ?? 0) + n);
  }
}
