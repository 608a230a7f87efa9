import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/** How much of the machine one historical retrieval's DuckDB may use. */
export interface DuckDBLimits {
  /** DuckDB's memory_limit, e.g. '2GB' (default: DuckDB's own, 80% of RAM). Past it, operators spill to tempDir. */
  readonly memoryLimit?: string;
  /** Worker threads (default: one per core). */
  readonly threads?: number;
  /** Where DuckDB spills (its temp_directory). */
  readonly tempDir: string;
}

/**
 * One in-memory DuckDB database and connection for one historical retrieval, bounded by
 * memory_limit (operators past it spill to temp_directory), with extension autoloading and
 * autoinstalling off: nothing is downloaded at run time, and the engine reads only local files
 * (the offline store's objects reach it through stageObjects).
 *
 * @example
 *   const duck = await DuckDBSession.open({ memoryLimit: '2GB', tempDir: '/tmp/granary-x' });
 *   try { await duck.rows('SELECT 42 AS answer') } finally { duck.close() } // => [{ answer: 42 }]
 */
export class DuckDBSession {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(limits: DuckDBLimits): Promise<DuckDBSession> {
    const options: Record<string, string> = {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      temp_directory: limits.tempDir,
    };
    if (limits.memoryLimit !== undefined) options.memory_limit = limits.memoryLimit;
    if (limits.threads !== undefined) options.threads = String(limits.threads);
    const instance = await DuckDBInstance.create(':memory:', options);
    return new DuckDBSession(instance, await instance.connect());
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** The result rows as plain objects (BIGINT as bigint). */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjects() as Record<string, unknown>[];
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** A SQL identifier: `"name"`, quotes doubled. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal: `'text'`, quotes doubled. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
