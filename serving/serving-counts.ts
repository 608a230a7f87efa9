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
 * the request's path: the statuses counted at once (each distinct statuses array once: the columns
 * of one view share theirs) into per-minute counts, and one bucket increment per response; only
 * the counts wait for the flush. A read is never held: holding every response until the flush
 * kept ~2 s of responses alive, so each young-generation collection copied them (2-7 ms pauses
 * every ~35 ms under load, the server's p99; docs/plans/online-store-v2.md). A failed flush
 * keeps its counts for the next one.
 *
 * @example
 *   const counts = new ServingCounts({ counters: new RedisServingCounters(onlineConnection(config)), project: 'fraud' });
 *   new FeatureServer({ ..., observers: [counts] });
 */
export class ServingCounts implements ServingObserver {
  /** minute -> field -> count, not yet added. */
  private pending = new Map<number, Map<string, number>>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly fields = new Map<string, readonly string[]>();

  /** Reads per status of the last statuses array counted (reused). */
  private readonly byStatus = new Array<number>(FEATURE_STATUSES.length).fill(0);

  constructor(private readonly options: { readonly counters: ServingCounters; readonly project: string; readonly flushMs?: number }) {
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 2000);
    this.timer.unref();
  }

  served(read: ServedRead): void {
    this.countStatuses(read);
  }

  timed(featureService: string, seconds: number): void {
    if (featureService === '') return;
    let b = 0;
    while (seconds > LATENCY_BUCKETS[b]!) b++;
    this.bump(Math.floor(Date.now() / 60_000), latencyField(featureService, LATENCY_BUCKETS[b]!), 1);
  }

  /** Adds everything pending to Redis; resolves once sent (or failed, kept). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
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
    let counts = this.pending.get(minute);
    if (!counts) this.pending.set(minute, (counts = new Map()));
    const byStatus = this.byStatus;
    let counted: readonly FeatureStatus[] | undefined;
    for (let f = 0; f < table.columns.length; f++) {
      const statuses = table.columns[f]!.statuses;
      if (statuses !== counted) {
        byStatus.fill(0);
        for (let r = 0; r < statuses.length; r++) byStatus[STATUS_INDEX[statuses[r]!]]!++;
        counted = statuses;
      }
      const fields = this.fieldsOf(table.featureRefs[f]!);
      for (let i = 0; i < byStatus.length; i++) {
        const n = byStatus[i]!;
        if (n > 0) counts.set(fields[i]!, (counts.get(fields[i]!) ?? 0) + n);
      }
    }
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
