import { createHash } from 'node:crypto';
import type { ObjectInfo } from './offline-store.ts';

/**
 * What a store returns for a written object: its key, rows, size and SHA-256.
 *
 * @example
 *   objectInfo('a/b.parquet', 0, new Uint8Array()).checksum
 *   // => 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
 */
export function objectInfo(key: string, rowCount: number, bytes: Uint8Array): ObjectInfo {
  return Object.freeze({ key, rowCount, bytes: bytes.byteLength, checksum: sha256Hex(bytes) });
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
