import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenHash } from '../stores/registry/access-registry.ts';

/**
 * A consumer's token: `gry_<id>.<secret>`, where `id` is 12 random bytes and `secret` 32 random
 * bytes, both base64url. The `gry_` prefix lets secret scanners (and people) recognize it; the id
 * is public (it finds the stored row, and names the token in the history); only the secret
 * authenticates.
 *
 * What the registry stores is `HMAC-SHA256(salt, secret)` with 16 random bytes of salt per token,
 * never the token. Why HMAC and not scrypt: scrypt (or bcrypt, argon2) is slow on purpose, to make
 * guessing a low-entropy password from its hash expensive. A 256-bit random secret cannot be
 * guessed, slow or fast, so a slow hash buys nothing; and it would cost the feature server tens of
 * milliseconds of CPU per request (per bad token, too: an easy denial of service). The salt keeps
 * equal secrets (there are none in practice) from having equal hashes, and a stolen table of
 * hashes from being matched against a list of tokens computed once. Comparison is constant-time
 * (crypto.timingSafeEqual on two 32-byte digests).
 *
 * @example
 *   const { token, stored } = newToken();
 *   token // => 'gry_Jq3...Wk.8fK...Q'  (printed once, never stored)
 *   const parsed = parseToken(token)!;
 *   verifySecret(parsed.secret, stored) // => true
 */
export const TOKEN_PREFIX = 'gry_';
const ID_BYTES = 12;
const SECRET_BYTES = 32;
const SALT_BYTES = 16;
const TOKEN_PATTERN = /^gry_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;
/** Longest Authorization header value looked at: longer ones are refused without parsing. */
export const MAX_TOKEN_CHARS = TOKEN_PREFIX.length + 16 + 1 + 43;

export interface ParsedToken {
  readonly tokenId: string;
  readonly secret: string;
}

/** A new random token, and what the registry keeps of it. */
export function newToken(): { token: string; stored: TokenHash } {
  const tokenId = randomBytes(ID_BYTES).toString('base64url');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  const salt = randomBytes(SALT_BYTES);
  return { token: `${TOKEN_PREFIX}${tokenId}.${secret}`, stored: { tokenId, salt, hash: secretHash(salt, secret) } };
}

/** The id and secret of a well-formed token; undefined for anything else (never throws). */
export function parseToken(text: string): ParsedToken | undefined {
  if (text.length !== MAX_TOKEN_CHARS) return undefined;
  const match = TOKEN_PATTERN.exec(text);
  return match ? { tokenId: match[1]!, secret: match[2]! } : undefined;
}

export function secretHash(salt: Buffer, secret: string): Buffer {
  return createHmac('sha256', salt).update(secret, 'utf8').digest();
}

/** Whether the secret matches the stored hash, compared in constant time. */
export function verifySecret(secret: string, stored: Pick<TokenHash, 'salt' | 'hash'>): boolean {
  const computed = secretHash(stored.salt, secret);
  return computed.length === stored.hash.length && timingSafeEqual(computed, stored.hash);
}

/** A token's public part, safe to print or log: `gry_<id>.…`. */
export function tokenLabel(tokenId: string): string {
  return `${TOKEN_PREFIX}${tokenId}.…`;
}
