/**
 * Redis Cluster hash slots, for splitting a multi-key script call (the monotonic write,
 * monotonic-write-many.lua.ts) into calls whose keys share one slot: Cluster refuses a script
 * whose keys span slots. Layout 2's keys carry a hash tag per (generation, bucket)
 * (key-layout.ts) and its calls hold rows of one bucket, so they are single-slot by construction;
 * this file remains for routing on Cluster (grouping calls and reads by slot, then by node) and
 * for layout 1, whose keys carry no tag.
 *
 * @example
 *   hashSlot('foo')                        // => 12182 (what CLUSTER KEYSLOT foo answers)
 *   hashSlot('{user1000}.following')       // => hashSlot('user1000'): only the tag is hashed
 *   groupBySlot(['foo', 'bar', '{foo}x'])  // => Map { 12182 => [0, 2], 5061 => [1] }
 */

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** Number of hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/** CRC16 (XMODEM, the variant Redis Cluster uses) of some bytes. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/**
 * The slot of a key: CRC16 of its UTF-8 bytes mod 16384, or of its hash tag only, the text
 * between the first `{` and the next `}` when that text is not empty.
 */
export function hashSlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % CLUSTER_SLOTS;
}

/** The indices of `keys` grouped by slot, each group in the keys' order; groups by first appearance. */
export function groupBySlot(keys: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  keys.forEach((key, index) => {
    const slot = hashSlot(key);
    const group = groups.get(slot);
    if (group) group.push(index);
    else groups.set(slot, [index]);
  });
  return groups;
}
