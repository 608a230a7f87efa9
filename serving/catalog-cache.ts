import type { Registry } from '../stores/registry/registry.ts';
import { ServingCatalog, catalogFingerprint } from './serving-catalog.ts';
import { ServingError } from './serving-error.ts';
import { withDeadline } from './with-deadline.ts';

/** How often the serving catalog re-reads the definitions, and the deadline of each registry query. */
export interface CatalogCacheOptions {
  /** How often definitions are checked for changes. Default 2000 ms. */
  readonly refreshMs?: number;
  /** Deadline of one registry query. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Called after each refresh that found changed definitions. */
  readonly onChange?: (catalog: ServingCatalog) => void;
}

/**
 * The registry's definitions as the read path sees them, kept in memory and refreshed without a
 * restart: every `refreshMs` the registered objects are listed (one query) and, when anything
 * changed (an apply, a new version, a removal), a new ServingCatalog replaces the old one.
 * A name the catalog does not know triggers an early refresh (at most one per `refreshMs / 4`),
 * so a service applied a moment ago is found at once. While the registry is unreachable the
 * last catalog keeps serving; `lastError` says why it is not refreshed.
 *
 * @example
 *   const cache = new CatalogCache(registry, { refreshMs: 2000, timeoutMs: 1000 });
 *   const catalog = await cache.current(); // the first call loads it
 *   cache.close();                          // stops the refresh timer
 */
export class CatalogCache {
  private catalog: ServingCatalog | undefined;
  private fingerprint = '';
  private loading: Promise<ServingCatalog> | undefined;
  private loadedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Why the last refresh failed; undefined once one succeeds. */
  lastError: Error | undefined;
  readonly refreshMs: number;
  readonly timeoutMs: number;

  constructor(
    private readonly registry: Pick<Registry, 'listObjects' | 'project'>,
    private readonly options: CatalogCacheOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 2000;
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** The cached catalog; loads it on first use (a 503 ServingError if the registry cannot answer). */
  async current(): Promise<ServingCatalog> {
    return this.catalog ?? this.refresh();
  }

  /** Loads the definitions now (joining a load in flight); a 503 ServingError on failure. */
  refresh(): Promise<ServingCatalog> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Refreshes unless it was done less than `ms` ago; for names the catalog does not know. */
  async refreshIfOlderThan(ms: number): Promise<ServingCatalog> {
    if (this.catalog && Date.now() - this.loadedAt < ms) return this.catalog;
    return this.refresh();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async load(): Promise<ServingCatalog> {
    try {
      const objects = await withDeadline(
        this.registry.listObjects(),
        this.timeoutMs,
        () => new Error(`the registry did not answer within ${this.timeoutMs} ms`),
      );
      this.loadedAt = Date.now();
      this.lastError = undefined;
      const fingerprint = catalogFingerprint(objects);
      if (!this.catalog || fingerprint !== this.fingerprint) {
        const first = !this.catalog;
        this.catalog = new ServingCatalog(objects);
        this.fingerprint = fingerprint;
        if (!first) this.options.onChange?.(this.catalog);
      }
      return this.catalog;
    } catch (error) {
      this.lastError = error as Error;
      throw new ServingError('REGISTRY_UNAVAILABLE', `registry of project '${this.registry.project}': ${(error as Error).message}`, { cause: error });
    } finally {
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh().catch(() => undefined);
    }, this.refreshMs);
    this.timer.unref();
  }
}
