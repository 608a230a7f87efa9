import { maskSecrets } from '../../config/mask-secrets.ts';
import { untrustedCertificate } from '../untrusted-certificate.ts';

/**
 * The offline store's S3 endpoint could not be reached or refused the credentials. The message
 * names the offline store, the endpoint, the operation and what to check, not a bare
 * `ECONNREFUSED`. Retryable: an activity that meets it is retried until S3 is back.
 *
 * @example
 *   new OfflineStoreUnavailableError('s3://granary/offline', 'http://127.0.0.1:19000', 'PutObject', new Error('connect ECONNREFUSED 127.0.0.1:19000')).message
 *   // => "offline store s3://granary/offline: cannot reach S3 at http://127.0.0.1:19000 (PutObject: connect ECONNREFUSED
 *   //     127.0.0.1:19000); check that S3 (MinIO) runs there (local stack: npm run stack -- up) and offline.s3.endpoint / GRANARY_S3_ENDPOINT"
 */
export class OfflineStoreUnavailableError extends Error {
  constructor(root: string, endpoint: string, operation: string, cause: unknown, kind: 'unreachable' | 'credentials' | 'untrusted' = 'unreachable') {
    const reason = reasonOf(cause);
    const message =
      kind === 'untrusted'
        ? `offline store ${root}: S3 at ${endpoint} cannot be trusted: ${untrustedCertificate(cause) ?? reason} (${operation}); ` +
          'give the CA that signed it with offline.s3.tlsCa (GRANARY_S3_TLS_CA)'
        : kind === 'credentials'
        ? `offline store ${root}: S3 at ${endpoint} refused the credentials (${operation}: ${reason}); ` +
          'check offline.s3.accessKeyId and offline.s3.secretAccessKey (GRANARY_S3_ACCESS_KEY_ID, GRANARY_S3_SECRET_ACCESS_KEY)'
        : `offline store ${root}: cannot reach S3 at ${endpoint} (${operation}: ${reason}); ` +
          'check that S3 (MinIO) runs there (local stack: npm run stack -- up) and offline.s3.endpoint / GRANARY_S3_ENDPOINT';
    super(maskSecrets(message), { cause });
    this.name = 'OfflineStoreUnavailableError';
  }

  /** Which kind of S3 failure `error` is: a connection that failed, refused credentials, an untrusted certificate, or neither (undefined). */
  static kindOf(error: unknown): 'unreachable' | 'credentials' | 'untrusted' | undefined {
    const e = error as { name?: string; code?: string; errors?: unknown[] } | null | undefined;
    if (!e) return undefined;
    if (untrustedCertificate(error)) return 'untrusted';
    if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return 'unreachable';
    if (e.name === 'TimeoutError') return 'unreachable';
    if (typeof e.name === 'string' && CREDENTIAL_ERRORS.has(e.name)) return 'credentials';
    if (Array.isArray(e.errors) && e.errors.some((inner) => OfflineStoreUnavailableError.kindOf(inner) === 'unreachable')) return 'unreachable';
    return undefined;
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken']);

function reasonOf(cause: unknown): string {
  if (cause instanceof AggregateError && cause.errors.length > 0) return cause.errors.map(reasonOf).join('; ');
  if (cause instanceof Error) return cause.message || (cause as { code?: string }).code || cause.name;
  return String(cause);
}
