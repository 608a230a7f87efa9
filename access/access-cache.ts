import type { AccessRegistry } from '../stores/registry/access-registry.ts';
import { AccessPolicy } from './access-policy.ts';

/** How often the access rules are checked for changes, and how stale they may get before requests are refused. */
export interface AccessCacheOptions {
  /** Default 1000 ms: a grant, revoke or rotation takes effect on running servers within about this long. */
  readonly refreshMs?: number;
  /**
   * While the registry cannot be read, the last rules keep applying for this long, then every
   * request is refused (503) rather than served by rules that may be revoked. Default 60000 ms.
   */
  readonly maxStaleMs?: number;
  /** Deadline of one registry query. Default 2000 ms. */
  readonly timeoutMs?: number;
}

/**
 * The project's AccessPolicy, kept in memory and refreshed in the background: every `refreshMs`
 * one cheap query reads the access history's newest id, and only when it moved is a new snapshot
 * (tokens, consumers, the project's grants) loaded. So a grant or a revoke reaches every running
 * server within `refreshMs` plus one query, without a restart.
 *
 * @example
 *   const cache = new AccessCache(access, 'fraud', { refreshMs: 1000 });
 *   const policy = await cache.current(); // the first call loads it
 *   cache.close();
 */
export class AccessCache {
  private policy: AccessPolicy | undefined;
  private loadedAt = 0;
  private loading: Promise<AccessPolicy> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  lastError: Error | undefined;
  readonly refreshMs: number;
  readonly maxStaleMs: number;
  readonly timeoutMs: number;

  constructor(
    private readonly registry: Pick<AccessRegistry, 'accessVersion' | 'snapshot'>,
    readonly project: string,
    options: AccessCacheOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 1000;
    this.maxStaleMs = options.maxStaleMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** The rules in force; loads them on first use. Throws when they cannot be loaded or are older than maxStaleMs. */
  async current(): Promise<AccessPolicy> {
    if (this.policy && Date.now() - this.loadedAt <= this.maxStaleMs) return this.policy;
    return this.refresh();
  }

  /** The rules in force without waiting, when fresh enough; undefined otherwise (then call current()). */
  ready(): AccessPolicy | undefined {
    return this.policy && Date.now() - this.loadedAt <= this.maxStaleMs ? this.policy : undefined;
  }

  refresh(): Promise<AccessPolicy> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async load(): Promise<AccessPolicy> {
    try {
      const version = await this.deadline(this.registry.accessVersion());
      if (!this.policy || version !== this.policy.version) this.policy = new AccessPolicy(await this.deadline(this.registry.snapshot(this.project)));
      this.loadedAt = Date.now();
      this.lastError = undefined;
      return this.policy;
    } catch (error) {
      this.lastError = error as Error;
      throw error;
    } finally {
      this.schedule();
    }
  }

  private deadline<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the registry did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }
}
