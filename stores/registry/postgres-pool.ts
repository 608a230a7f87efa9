import pg from 'pg';
import { reachingRegistry } from './registry-unavailable-error.ts';

/**
 * What each store in the registry's PostgreSQL shares: a pool of its own (named for the store in
 * `pg_stat_activity`), that survives an idle connection dying (a server restart: the pool
 * replaces it), closed once, and every query run so that "cannot reach the server" names the URL
 * (registry-unavailable-error.ts).
 *
 * @example
 *   class PostgresMonitorResults extends PostgresPool {
 *     constructor(url: string) { super(url, { maxConnections: 2, applicationName: 'granary-monitor' }); }
 *     latest() { return this.run(() => this.pool.query('SELECT ...')); }
 *   }
 */
export abstract class PostgresPool {
  protected readonly pool: pg.Pool;
  private closed = false;

  protected constructor(
    protected readonly url: string,
    options: { readonly maxConnections: number; readonly applicationName: string },
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: options.maxConnections, application_name: options.applicationName });
    // An idle connection that dies (server restart) must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** Runs a query, turning "cannot reach the server" errors into one that names the URL. */
  protected run<T>(fn: () => Promise<T>): Promise<T> {
    return reachingRegistry(this.url, fn);
  }
}
