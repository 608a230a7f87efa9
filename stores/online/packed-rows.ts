import type { OnlineColumns } from './online-store.ts';
import type { PackedRowCodec } from './packed-row-codec.ts';

/**
 * Many packed rows (packed-row-codec.ts) in one buffer: row i is bytes[ends[i - 1] ?? 0, ends[i]).
 * A row whose value does not fit its type has no bytes (ends[i] = ends[i - 1]) and `refused`
 * says why. Made by packArrowRows (arrow-row-packer.ts) or packColumns below; written by the
 * store's fenced write and compared by sameAsStored (verify, after an MGET).
 */
export interface PackedRows {
  readonly bytes: Buffer;
  readonly ends: Int32Array;
  readonly refused: ReadonlyMap<number, string>;
}

/**
 * Rows given as JS values (OnlineColumns) packed one by one with the codec into one buffer: the
 * path of callers without Arrow columns. Same bytes as packArrowRows for the same rows.
 *
 * @example
 *   packColumns(codec, columns).ends.length // => columns.keys.length
 */
export function packColumns(codec: PackedRowCodec, rows: OnlineColumns): PackedRows {
  const columns = codec.features.map((f) => rows.values[f.name]);
  const pieces: Buffer[] = [];
  const ends = new Int32Array(rows.keys.length);
  const refused = new Map<number, string>();
  let at = 0;
  for (let i = 0; i < rows.keys.length; i++) {
    try {
      const bytes = codec.encode(rows.eventTimes[i]!, rows.createdTimes[i]!, (f) => columns[f]?.[i]);
      pieces.push(bytes);
      at += bytes.length;
    } catch (error) {
      refused.set(i, (error as Error).message);
    }
    ends[i] = at;
  }
  return { bytes: Buffer.concat(pieces, at), ends, refused };
}

/**
 * compareRows' answer for row i from what an MGET returned for its key: 0 same bytes, 1 absent,
 * 2 differs (a refused row, with no bytes, can never be the same).
 */
export function sameAsStored(packed: PackedRows, i: number, stored: Buffer | null): 0 | 1 | 2 {
  if (stored === null) return 1;
  const start = i === 0 ? 0 : packed.ends[i - 1]!;
  const end = packed.ends[i]!;
  if (end === start) return 2;
  return stored.length === end - start && packed.bytes.compare(stored, 0, stored.length, start, end) === 0 ? 0 : 2;
}
