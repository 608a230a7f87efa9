import type { FeatureView } from '../definitions/feature-view.ts';
import { onlineTargetOf, type OnlineStore } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { GenerationCache } from './generation-cache.ts';

/** What Redis holds of one view version's active generation. */
export interface OnlineViewState {
  readonly view: string;
  readonly version: number;
  readonly generation: number;
  /**
   * `ok`: the generation's marker is in Redis (or nothing was materialized into it yet);
   * `lost`: the marker is gone although commits up to `watermark` were materialized: Redis lost
   * the data, every read of the view is NOT_FOUND until a rebuild cuts over.
   */
  readonly state: 'ok' | 'lost';
  readonly watermark?: number;
}

export interface OnlineStateMonitorOptions {
  readonly registry: Pick<Registry, 'project' | 'activeGeneration' | 'watermark' | 'migrations'>;
  readonly online: Pick<OnlineStore, 'hasGenerationMarker'>;
  /** The view versions served online (the serving catalog's). */
  readonly views: () => Promise<readonly FeatureView[]>;
  /** The read path's active generations: the check follows what reads use. */
  readonly generations: Pick<GenerationCache, 'get'>;
  /** How often the background check runs once started. Default 1000 ms. */
  readonly intervalMs?: number;
  /**
   * Called when a view is found lost (then again every `lossRetryMs` while it stays lost), e.g.
   * to start its rebuild (`online.onRedisLoss: rebuild`). Must be idempotent; errors are reported
   * through `onError` and retried at the next call.
   */
  readonly onLoss?: (ref: ViewRef, state: OnlineViewState) => Promise<unknown>;
  /** Default 60 s. */
  readonly lossRetryMs?: number;
  readonly onError?: (error: Error) => void;
}

/**
 * Watches that Redis still holds the active generation of every online view: each check reads
 * the generation markers (stores/online/key-layout.ts), one EXISTS per view. A missing marker is
 * confirmed against the registry before it counts (the active generation read again, in case a
 * rebuild just cut over and dropped the old one; and its watermark: a generation nothing was
 * materialized into has no marker yet and is not lost). Versions retired by a completed
 * migration have no keys on purpose and are skipped. Redis or the registry not answering leaves
 * the last known states (the health check reports that separately).
 *
 * @example
 *   const monitor = new OnlineStateMonitor({ registry, online, views: async () => catalog.onlineViews(), generations });
 *   await monitor.check() // => [{ view: 'user_spend', version: 1, generation: 3, state: 'lost', watermark: 41 }]
 *   monitor.start(); ... monitor.close();
 */
export class OnlineStateMonitor {
  private readonly known = new Map<string, OnlineViewState>();
  private readonly lossReported = new Map<string, number>();
  private checking: Promise<readonly OnlineViewState[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly intervalMs: number;

  constructor(private readonly options: OnlineStateMonitorOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
  }

  /** The states found by the last check, one per online view version. */
  states(): readonly OnlineViewState[] {
    return [...this.known.values()];
  }

  lost(): readonly OnlineViewState[] {
    return this.states().filter((s) => s.state === 'lost');
  }

  /** Checks every online view now (joining a check in flight); returns the states. */
  check(): Promise<readonly OnlineViewState[]> {
    this.checking ??= this.run().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /** Checks every `intervalMs` in the background until close(). */
  start(): void {
    if (this.closed || this.timer) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        this.check().then(
          () => undefined,
          (error: Error) => this.options.onError?.(error),
        ).finally(() => {
          if (!this.closed) tick();
        });
      }, this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async run(): Promise<readonly OnlineViewState[]> {
    const views = await this.options.views();
    const live = new Set<string>();
    let retired: Set<string> | undefined;
    await Promise.all(
      views.map(async (view) => {
        const key = `${view.name}@${view.version}`;
        live.add(key);
        try {
          const cached = this.options.generations.get(view.name, view.version);
          const generation = typeof cached === 'number' ? cached : await cached;
          const project = this.options.registry.project;
          if (await this.options.online.hasGenerationMarker(onlineTargetOf(project, view, generation))) {
            this.settle(key, { view: view.name, version: view.version, generation, state: 'ok' });
            return;
          }
          retired ??= await this.retiredVersions();
          if (retired.has(key)) {
            this.known.delete(key);
            return;
          }
          // Confirm on the registry's own figures: the cache may be a cut-over behind.
          const active = (await this.options.registry.activeGeneration(view.name, view.version)).generation;
          const marked = active !== generation && (await this.options.online.hasGenerationMarker(onlineTargetOf(project, view, active)));
          const watermark = await this.options.registry.watermark(view.name, view.version, active);
          const state: OnlineViewState = {
            view: view.name,
            version: view.version,
            generation: active,
            state: !marked && watermark > 0 ? 'lost' : 'ok',
            watermark,
          };
          this.settle(key, state);
        } catch (error) {
          this.options.onError?.(error as Error);
        }
      }),
    );
    for (const key of this.known.keys()) if (!live.has(key)) this.known.delete(key);
    return this.states();
  }

  private settle(key: string, state: OnlineViewState): void {
    this.known.set(key, state);
    if (state.state !== 'lost') {
      this.lossReported.delete(key);
      return;
    }
    const { onLoss } = this.options;
    const retryMs = this.options.lossRetryMs ?? 60_000;
    const last = this.lossReported.get(key);
    if (!onLoss || (last !== undefined && Date.now() - last < retryMs)) return;
    this.lossReported.set(key, Date.now());
    const ref: ViewRef = { project: this.options.registry.project, view: state.view, version: state.version };
    onLoss(ref, state).catch((error: Error) => {
      // Try again sooner than after a success (in 10 s at most).
      this.lossReported.set(key, Date.now() - retryMs + Math.min(retryMs, 10_000));
      this.options.onError?.(error);
    });
  }

  private async retiredVersions(): Promise<Set<string>> {
    const migrations = await this.options.registry.migrations();
    return new Set(migrations.filter((m) => m.state === 'completed').map((m) => `${m.view}@${m.from}`));
  }
}
