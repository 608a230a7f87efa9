/**
 * Whether a connection failed because the server's TLS certificate is not trusted (signed by a
 * CA the client was not given, self-signed, expired, or naming another host), and in words. The
 * three stores name themselves and the setting that gives the CA around it (Redis: online.tlsCa;
 * S3: offline.s3.tlsCa; PostgreSQL: sslrootcert in registry.url).
 *
 * @example
 *   untrustedCertificate(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))
 *   // => "its TLS certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain)"
 *   untrustedCertificate(new Error('connect ECONNREFUSED 127.0.0.1:6379')) // => undefined
 */
export function untrustedCertificate(error: unknown): string | undefined {
  const e = error as { code?: unknown; message?: unknown; errors?: unknown[]; cause?: unknown } | null | undefined;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string' && UNTRUSTED_CODES.has(e.code)) {
    const what = e.code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'its TLS certificate does not name the host connected to' : 'its TLS certificate is not trusted';
    return `${what} (${e.code}: ${String(e.message)})`;
  }
  if (Array.isArray(e.errors)) for (const inner of e.errors) {
    const found = untrustedCertificate(inner);
    if (found) return found;
  }
  return e.cause !== undefined && e.cause !== error ? untrustedCertificate(e.cause) : undefined;
}

/** Node's (OpenSSL's) verification failures of a server certificate. */
const UNTRUSTED_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
