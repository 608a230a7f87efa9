import type { AccessRegistry, RestrictedReadCount } from '../stores/registry/access-registry.ts';

/** How reads are bucketed and how often counts are written. */
export interface RestrictedReadAuditOptions {
  /** Width of a time bucket. Default 60000 ms (one row per consumer, read and minute). */
  readonly bucketMs?: number;
  /** How often counts are written to the registry. Default 5000 ms. */
  readonly flushMs?: number;
  /** Distinct (consumer, read, bucket) counts kept while the registry cannot be written; past it the oldest are dropped (and counted in `dropped`). Default 10000. */
  readonly maxPending?: number;
}

/**
 * The audit of reads of restricted features: each read adds one to an in-memory count per
 * (consumer, read, time bucket), and a timer writes the counts to the registry in one statement
 * every `flushMs`, off the request path (a request never waits on the registry for it). Counts
 * that could not be written are kept and added on the next flush; `close()` flushes what is left.
 *
 * @example
 *   const audit = new RestrictedReadAudit(access, 'fraud');
 *   audit.count('recommendation_model', 'service:fraud_model_v1');
 *   await audit.close(); // granary_restricted_reads: (fraud, recommendation_model, service:fraud_model_v1, <minute>, 1)
 */
export class RestrictedReadAudit {
  private pending = new Map<string, RestrictedReadCount>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Counts dropped because the registry could not be written for too long. */
  dropped = 0;
  lastError: Error | undefined;
  private readonly bucketMs: number;
  private readonly flushMs: number;
  private readonly maxPending: number;

  constructor(
    private readonly registry: Pick<AccessRegistry, 'recordRestrictedReads'>,
    private readonly project: string,
    options: RestrictedReadAuditOptions = {},
  ) {
    this.bucketMs = options.bucketMs ?? 60_000;
    this.flushMs = options.flushMs ?? 5000;
    this.maxPending = options.maxPending ?? 10_000;
  }

  count(consumer: string, read: string, now = Date.now()): void {
    const bucket = Math.floor(now / this.bucketMs) * this.bucketMs;
    const key = `${consumer}\n${read}\n${bucket}`;
    const found = this.pending.get(key);
    if (found) {
      this.pending.set(key, { ...found, count: found.count + 1 });
    } else {
      if (this.pending.size >= this.maxPending) {
        const oldest = this.pending.keys().next().value as string;
        this.dropped += this.pending.get(oldest)!.count;
        this.pending.delete(oldest);
      }
      this.pending.set(key, { project: this.project, consumer, read, bucket: new Date(bucket), count: 1 });
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes the pending counts now; on failure they stay pending (merged with newer ones). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing ??= (async () => {
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.registry.recordRestrictedReads([...batch.values()]);
        this.lastError = undefined;
      } catch (error) {
        this.lastError = error as Error;
        for (const [key, c] of batch) {
          const newer = this.pending.get(key);
          this.pending.set(key, newer ? { ...c, count: c.count + newer.count } : c);
        }
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), this.flushMs);
          this.timer.unref();
        }
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flushing;
    if (this.pending.size > 0) await this.flush();
    clearTimeout(this.timer);
  }
}
