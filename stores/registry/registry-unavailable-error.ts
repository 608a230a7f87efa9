import { maskSecrets } from '../../config/mask-secrets.ts';
import { untrustedCertificate } from '../untrusted-certificate.ts';

/**
 * The registry's PostgreSQL could not be reached (refused, unknown host, no such database,
 * authentication failed). The message names the URL, without its password, and the way out.
 *
 * @example
 *   new RegistryUnavailableError('postgres://postgres:secret@127.0.0.1:15432/granary', cause).message
 *   // => "cannot reach the registry at postgres://postgres:***@127.0.0.1:15432/granary: connect ECONNREFUSED
 *   //     127.0.0.1:15432 (is the local stack up? npm run stack -- up)"
 */
export class RegistryUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message || String((cause as { code?: string }).code) : String(cause);
    const untrusted = untrustedCertificate(cause);
    super(
      maskSecrets(
        untrusted
          ? `cannot reach the registry at ${url}: ${untrusted}; give the CA that signed it in the URL: ?sslmode=verify-full&sslrootcert=/path/to/ca.pem`
          : `cannot reach the registry at ${url}: ${reason} (is the local stack up? npm run stack -- up)`,
      ),
      { cause },
    );
    this.name = 'RegistryUnavailableError';
  }

  /** Whether a pg or socket error means the server could not be reached or used at all. */
  static isConnectionError(error: unknown): boolean {
    if (untrustedCertificate(error)) return true;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== 'string') return error instanceof AggregateError && error.errors.some((e) => RegistryUnavailableError.isConnectionError(e));
    return CONNECTION_CODES.has(code);
  }
}

/** Socket errors, and PostgreSQL's: invalid_catalog_name (no database), invalid_password, invalid_authorization_specification. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', '3D000', '28P01', '28000']);

/**
 * Runs a registry query, turning "cannot reach the server" errors into a RegistryUnavailableError
 * that names the URL (every PostgreSQL store of the registry goes through it).
 *
 * @example
 *   await reachingRegistry(url, () => pool.query('SELECT 1'))
 *   // throws RegistryUnavailableError "cannot reach the registry at postgres://...: connect ECONNREFUSED ..." when PostgreSQL is down
 */
export async function reachingRegistry<T>(url: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (RegistryUnavailableError.isConnectionError(error)) throw new RegistryUnavailableError(url, error);
    throw error;
  }
}
