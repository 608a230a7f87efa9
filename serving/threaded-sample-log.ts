import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { OfflineSettings } from '../config/granary-config.ts';
import type { ServedRead, ServingObserver } from './serving-observer.ts';
import { sampleDraw, type ServingSampleLog } from './serving-sample-log.ts';

export interface ThreadedSampleLogOptions {
  /** Where the samples go; the thread opens its own offline store from these settings. */
  readonly offline: OfflineSettings;
  readonly project: string;
  /** Share of reads logged, 0..1. Default 0.01 (config monitoring.skewSampleRate). */
  readonly rate?: number;
  /** How often the thread writes what it holds (ms). Default 10000. */
  readonly flushMs?: number;
  /** Reads the thread holds at most between writes; more are dropped. Default 10000. */
  readonly maxReads?: number;
  readonly random?: () => number;
  /** Told when a write fails (its reads are dropped) or the thread stops. */
  readonly onError?: (error: Error) => void;
}

/** What the thread is given at its start (structured-cloned). */
export interface SampleThreadData {
  readonly offline: OfflineSettings;
  readonly project: string;
  readonly flushMs?: number;
  readonly maxReads?: number;
  readonly serverId: string;
}

export type ToSampleThread = { readonly kind: 'reads'; readonly reads: readonly ServedRead[] } | { readonly kind: 'close' };
export type FromSampleThread =
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'closed'; readonly stats: ReturnType<ServingSampleLog['stats']> };

/** How long close() waits for the thread's last write. */
const CLOSE_TIMEOUT_MS = 15_000;

/**
 * The skew sample log of `granary serve` (serving-sample-log.ts), its encoding and writing in a
 * thread of its own. In the server's thread a read costs a random draw; a sampled read is handed
 * to the thread (structured clone) in a `setImmediate` after the response, a few at once. The
 * thread keeps them and every `flushMs` turns them into Parquet and writes them to the offline
 * store, as ServingSampleLog does, without holding the server's event loop.
 *
 * Why a thread: in one thread, a flush encoded each held read (a JSON value per served value,
 * Arrow columns, Parquet, the object's SHA-256, the S3 request) between two requests; with 1 %
 * of 100-entity x 50-feature reads sampled that is ~5,000 values per sampled read, and the
 * flushes alone raised that shape's p99 from ~4 ms to 9-12 ms (`npm run bench -- serving`,
 * monitoring.skewSampleRate 0 against 0.01, docs/plans/online-store-v2.md "Serving tails").
 *
 * @example
 *   const log = new ThreadedSampleLog({ offline: config.offline, project: 'fraud', rate: 0.01 });
 *   new FeatureServer({ ..., observers: [log] });
 *   await log.close();
 *   log.stats() // => { sampled: 12, written: 12, dropped: 0, failed: 0, objects: 1 }
 */
export class ThreadedSampleLog implements ServingObserver {
  private readonly options: ThreadedSampleLogOptions;
  private readonly drawn: (read: ServedRead) => boolean;
  private readonly thread: Worker;
  private outbox: ServedRead[] = [];
  private scheduled = false;
  private stopped = false;
  private closing: Promise<ReturnType<ServingSampleLog['stats']> | undefined> | undefined;
  private closedStats: ReturnType<ServingSampleLog['stats']> | undefined;
  /** Reads that could not be handed to the thread (a value structured clone cannot copy): counted as sampled and failed. */
  private unposted = 0;

  constructor(options: ThreadedSampleLogOptions) {
    this.drawn = sampleDraw(options.rate, options.random);
    this.options = options;
    const data: SampleThreadData = {
      offline: options.offline,
      project: options.project,
      flushMs: options.flushMs,
      maxReads: options.maxReads,
      serverId: randomBytes(4).toString('hex'),
    };
    this.thread = new Worker(new URL('./sample-log-thread.mjs', import.meta.url), { workerData: data });
    this.thread.unref();
    this.thread.on('message', (message: FromSampleThread) => {
      if (message.kind === 'error') options.onError?.(new Error(message.message));
    });
    this.thread.on('error', (error) => {
      this.stopped = true;
      options.onError?.(new Error(`the sample log's thread stopped, samples are no longer logged: ${error.message}`));
    });
    this.thread.on('exit', () => {
      this.stopped = true;
    });
  }

  served(read: ServedRead): void {
    if (this.stopped || !this.drawn(read)) return;
    this.outbox.push(read);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.post());
    }
  }

  /** Hands the thread what it holds, lets it write, and stops it. */
  async close(): Promise<void> {
    this.closing ??= this.stop();
    this.closedStats = await this.closing;
  }

  /**
   * The thread's counts (ServingSampleLog.stats) once closed, with the reads that could not be
   * handed to it counted as sampled and failed; undefined before, or if the thread did not answer.
   */
  stats(): ReturnType<ServingSampleLog['stats']> | undefined {
    const stats = this.closedStats;
    return stats && { ...stats, sampled: stats.sampled + this.unposted, failed: stats.failed + this.unposted };
  }

  /**
   * Hands the reads held to the thread. A value structured clone cannot copy (a function, a
   * symbol) makes postMessage throw a DataCloneError, having sent nothing: then the reads go one
   * by one, and those that fail are dropped (counted as failed, the first reported to onError),
   * never thrown out of the setImmediate, where they would stop `granary serve`.
   */
  private post(): void {
    this.scheduled = false;
    const reads = this.outbox;
    this.outbox = [];
    if (reads.length === 0 || this.stopped) return;
    try {
      this.thread.postMessage({ kind: 'reads', reads } satisfies ToSampleThread);
    } catch {
      for (const read of reads) {
        try {
          this.thread.postMessage({ kind: 'reads', reads: [read] } satisfies ToSampleThread);
        } catch (error) {
          this.unposted++;
          if (this.unposted === 1) this.options.onError?.(unpostedError(read, error));
        }
      }
    }
  }

  private async stop(): Promise<ReturnType<ServingSampleLog['stats']> | undefined> {
    if (this.stopped) return undefined;
    this.post();
    this.stopped = true;
    const closed = new Promise<ReturnType<ServingSampleLog['stats']> | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.options.onError?.(new Error(`the sample log's thread did not finish its last write within ${CLOSE_TIMEOUT_MS / 1000} s; its samples are dropped`));
        resolve(undefined);
      }, CLOSE_TIMEOUT_MS);
      this.thread.on('message', (message: FromSampleThread) => {
        if (message.kind !== 'closed') return;
        clearTimeout(timer);
        resolve(message.stats);
      });
      this.thread.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    this.thread.postMessage({ kind: 'close' } satisfies ToSampleThread);
    const stats = await closed;
    await this.thread.terminate();
    return stats;
  }
}

/** What the thread could not be sent, naming the read's feature service and the first feature (or join key) whose values cannot be copied. */
function unpostedError(read: ServedRead, error: unknown): Error {
  const { table } = read;
  const copies = (values: unknown): boolean => {
    try {
      structuredClone(values);
      return true;
    } catch {
      return false;
    }
  };
  const feature = table.columns.findIndex((c) => !copies(c.values) || !copies(c.eventTimestamps) || !copies(c.statuses));
  const joinKey = table.entityColumns.findIndex((c) => !copies(c));
  const where =
    feature >= 0 ? `feature '${table.featureRefs[feature] ?? table.featureNames[feature]}'` : joinKey >= 0 ? `join key '${table.joinKeys[joinKey]}'` : 'a value';
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(
    `a read of feature service '${read.featureService}' holds a value that cannot be sent to the sample log's thread, in ${where} (${reason}); such reads are not logged (counted as failed in its stats, reported once)`,
  );
}
