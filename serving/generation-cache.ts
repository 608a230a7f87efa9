import type { Generations } from '../stores/registry/generations.ts';
import { ServingError } from './serving-error.ts';
import { withDeadline } from './with-deadline.ts';

/** How often active generations are re-read, each read's deadline, and when an unused view is forgotten. */
export interface GenerationCacheOptions {
  /** Default 1000 ms. */
  readonly refreshMs?: number;
  /** Deadline of one registry query. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Default 10 minutes. */
  readonly forgetAfterMs?: number;
  /** Called when a view's active generation changed (a rebuild cut over). */
  readonly onChange?: (view: string, version: number, generation: number) => void;
}

interface Entry {
  readonly view: string;
  readonly version: number;
  generation: number;
  usedAt: number;
}

/**
 * The active online generation of each view version the read path uses, from the registry,
 * kept in memory and re-read every `refreshMs` in the background, so a rebuild's cut-over is
 * followed within about `refreshMs` without a restart, and no request waits on the registry
 * except the first one for a view. (A rebuild should drop the old generation no sooner than
 * that after the flip.) While the registry is unreachable the last known generation serves.
 * Views not read for `forgetAfterMs` are forgotten.
 *
 * @example
 *   const generations = new GenerationCache(registry, { refreshMs: 1000 });
 *   await generations.get('user_spend', 1) // => 3
 *   generations.close();
 */
export class GenerationCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<number>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  lastError: Error | undefined;
  readonly refreshMs: number;
  readonly timeoutMs: number;

  constructor(
    private readonly registry: Pick<Generations, 'activeGeneration'>,
    private readonly options: GenerationCacheOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** The active generation (cached); the first call for a view asks the registry. */
  get(view: string, version: number): Promise<number> | number {
    const key = `${view}@${version}`;
    const entry = this.entries.get(key);
    if (entry) {
      entry.usedAt = Date.now();
      return entry.generation;
    }
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetch(view, version).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  /** The cached generation without asking the registry, if known. */
  peek(view: string, version: number): number | undefined {
    return this.entries.get(`${view}@${version}`)?.generation;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async fetch(view: string, version: number): Promise<number> {
    let generation: number;
    try {
      generation = (await withDeadline(this.registry.activeGeneration(view, version), this.timeoutMs, () => new Error(`the registry did not answer within ${this.timeoutMs} ms`)))
        .generation;
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error as Error;
      if (this.entries.size > 0) this.schedule();
      throw new ServingError(
        'REGISTRY_UNAVAILABLE',
        `active generation of feature view '${view}' version ${version}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const key = `${view}@${version}`;
    const entry = this.entries.get(key);
    if (!entry) {
      this.entries.set(key, { view, version, generation, usedAt: Date.now() });
    } else if (entry.generation !== generation) {
      entry.generation = generation;
      this.options.onChange?.(view, version, generation);
    }
    this.schedule();
    return generation;
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refreshAll();
    }, this.refreshMs);
    this.timer.unref();
  }

  private async refreshAll(): Promise<void> {
    const forgetBefore = Date.now() - (this.options.forgetAfterMs ?? 600_000);
    const entries = [...this.entries.entries()];
    await Promise.allSettled(
      entries.map(([key, entry]) => {
        if (entry.usedAt < forgetBefore) {
          this.entries.delete(key);
          return undefined;
        }
        return this.fetch(entry.view, entry.version);
      }),
    );
    if (this.entries.size > 0) this.schedule();
  }
}
