/**
 * The entity-hash partition of an encoded entity key (key-layout.ts `encodeEntityKey`): FNV-1a
 * over its UTF-16 code units, modulo the partition count. Stable across processes and
 * machines, so every worker puts an entity in the same partition.
 *
 * @example
 *   entityPartition('u1', 8) // => the same number in 0..7 on every call, in every process
 */
export function entityPartition(encodedEntityKey: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < encodedEntityKey.length; i++) {
    hash ^= encodedEntityKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
