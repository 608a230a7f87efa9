import { createHash } from 'node:crypto';

/**
 * A stable hash of a spec: SHA-256 of its canonical JSON (object keys sorted), so the same
 * definition hashes the same whatever the key order it was stored with (jsonb reorders keys).
 *
 * @example
 *   contentHash({ b: 1, a: [2] }) === contentHash({ a: [2], b: 1 }) // => true
 */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** JSON with object keys sorted at every level; undefined properties are left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) out[key] = sortKeys(item);
  }
  return out;
}
