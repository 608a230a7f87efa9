import { maskSecrets } from '../../config/mask-secrets.ts';

/**
 * A failed online store call. The message names the Redis URL (password hidden), the operation
 * and the cause, so an unreachable or misconfigured Redis is obvious from the first line.
 *
 * @example
 *   new OnlineStoreError('redis://:secret@10.0.0.5:6379', 'readRows', new Error('connect ECONNREFUSED')).message
 *   // => "online store: Redis at redis://:***@10.0.0.5:6379 failed (readRows): connect ECONNREFUSED"
 */
export class OnlineStoreError extends Error {
  readonly url: string;
  readonly operation: string;

  constructor(url: string, operation: string, cause: unknown, reason?: string) {
    const shown = redactUrl(url);
    super(maskSecrets(`online store: Redis at ${shown} failed (${operation}): ${reason ?? (cause instanceof Error ? cause.message : String(cause))}`), { cause });
    this.name = 'OnlineStoreError';
    this.url = shown;
    this.operation = operation;
  }
}

/** The URL with its password masked, whatever its shape (config/mask-secrets.ts). */
export function redactUrl(url: string): string {
  return maskSecrets(url);
}
