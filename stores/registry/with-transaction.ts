import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in one transaction on one pooled connection: COMMIT when it returns, ROLLBACK when
 * it throws (the error is rethrown). A connection whose ROLLBACK failed is destroyed, not reused.
 *
 * @example
 *   await withTransaction(pool, (client) => client.query('INSERT ...'));
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
