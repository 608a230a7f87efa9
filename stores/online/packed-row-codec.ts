import { checkValue } from '../../definitions/check-value.ts';
import { parseValueType, type ScalarType, type ValueType } from '../../definitions/value-type.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';

/**
 * One online row as one Redis string (layout 2, generation-layout.ts): what Redis keeps per
 * (generation, entity), written with `SET key value PXAT expiry`, read with MGET.
 *
 *   bytes 0..7    event time, ms, float64 big-endian
 *   bytes 8..15   created time, ms, float64 big-endian (0 when the source has none)
 *   then          n, a varint: the number of features the row was packed with
 *   then          presence bitmap, ceil(n / 8) bytes: bit i (byte i >> 3, bit i & 7) set
 *                 when feature i (packing order) is not null
 *   then          each present feature, in declared order:
 *     bool        1 byte, 0 or 1
 *     int32       4 bytes, big-endian two's complement
 *     int64       8 bytes, big-endian two's complement (exact: bigint out)
 *     float32     4 bytes, IEEE float32 big-endian (the value fround gives, as today's codec)
 *     float64     8 bytes, IEEE float64 big-endian (-0, NaN, infinities kept)
 *     timestamp   8 bytes, float64 ms big-endian
 *     string      varint byte length, then UTF-8
 *     bytes       varint length, then the bytes
 *     list<T>     varint item count, a presence bitmap of the items, then each present item as T
 *   (varint: unsigned LEB128, 7 bits a byte, low bits first)
 *
 * The header is what the Lua scripts read: `struct.unpack('>dd', value)` gives the two times
 * as Lua numbers, so the monotonic compare costs a GETRANGE of 16 bytes and no parsing of the
 * features. Equal rows encode to equal bytes, which is what verify compares inside Redis.
 *
 * The packing order is the generation's (its marker's `features`, append-only: a nullable
 * feature added in place is appended, a reordering changes nothing), not the view's declared
 * order; a row packed before features were appended has a smaller n, and decodes with them null.
 *
 * @example
 *   const codec = new PackedRowCodec([{ name: 'spend', type: 'float64' }, { name: 'orders', type: 'int64' }]);
 *   const bytes = codec.encode(1_700_000_000_000, 0, (f) => [12.5, null][f]); // 16 + 1 + 1 + 8 bytes
 *   codec.decode(bytes) // => { eventTime: 1700000000000, createdTime: 0, values: [12.5, null] }
 */
export class PackedRowCodec {
  readonly features: readonly PackedFeature[];
  private scratch: Buffer = Buffer.allocUnsafe(256);

  constructor(features: readonly { readonly name: string; readonly type: ValueType }[]) {
    this.features = features.map(({ name, type }) => {
      const parsed = parseValueType(type);
      if (!parsed) throw new TypeError(`feature '${name}': unknown value type '${String(type)}'`);
      return Object.freeze({ name, type, scalar: parsed.scalar, list: parsed.list });
    });
  }

  /**
   * The packed row; `valueAt(i)` gives feature i's value (null or undefined: null). Throws a
   * TypeError `feature '<name>' (<type>): expected ...` when a value does not fit its type.
   */
  encode(eventTime: number, createdTime: number, valueAt: (feature: number) => FeatureValue | null | undefined): Buffer {
    const w = new Writer(this.scratch);
    w.double(eventTime);
    w.double(createdTime);
    w.varint(this.features.length);
    const bitmapAt = w.skip((this.features.length + 7) >> 3);
    for (let f = 0; f < this.features.length; f++) {
      const value = valueAt(f);
      if (value === null || value === undefined) continue;
      const feature = this.features[f]!;
      try {
        if (feature.list) writeList(w, feature, value);
        else writeScalar(w, feature.scalar, value);
      } catch (error) {
        throw new TypeError(`feature '${feature.name}' (${feature.type}): ${(error as Error).message}`);
      }
      w.setBit(bitmapAt, f);
    }
    this.scratch = w.buffer;
    return Buffer.from(w.buffer.subarray(0, w.at));
  }

  /**
   * The row's times and values, `values[j]` being feature `wanted[j]` (all features, in declared
   * order, when `wanted` is omitted). Throws when the bytes are not a row of these features.
   */
  decode(bytes: Buffer, wanted?: readonly number[]): { eventTime: number; createdTime: number; values: (FeatureValue | null)[] } {
    const r = new Reader(bytes);
    const eventTime = r.double();
    const createdTime = r.double();
    const packed = r.varint();
    if (packed > this.features.length) throw new PackedRowTooNew(packed, this.features.length);
    const bitmapAt = r.skip((packed + 7) >> 3);
    // Only up to the last feature asked for is walked (the serving read path asks for a view's
    // features, often all of them); features not asked for are skipped by their width.
    let last = this.features.length - 1;
    if (wanted) {
      last = -1;
      for (let j = 0; j < wanted.length; j++) if (wanted[j]! > last) last = wanted[j]!;
    }
    if (last > packed - 1) last = packed - 1;
    const all = new Array<FeatureValue | null>(this.features.length).fill(null);
    for (let f = 0; f <= last; f++) {
      if (!(bytes[bitmapAt + (f >> 3)]! & (1 << (f & 7)))) continue;
      const feature = this.features[f]!;
      all[f] = feature.list ? readList(r, feature.scalar) : readScalar(r, feature.scalar);
    }
    if (!wanted && last === packed - 1 && r.at !== bytes.length) throw new Error(`packed row has ${bytes.length - r.at} byte(s) after its last feature`);
    if (!wanted) return { eventTime, createdTime, values: all };
    const values = new Array<FeatureValue | null>(wanted.length);
    for (let j = 0; j < wanted.length; j++) values[j] = all[wanted[j]!] ?? null;
    return { eventTime, createdTime, values };
  }
}

/** A row packed with more features than the codec knows: the generation's packing grew since it was read. */
export class PackedRowTooNew extends Error {
  constructor(
    readonly packed: number,
    readonly known: number,
  ) {
    super(`packed row has ${packed} features, the packing read has ${known}`);
    this.name = 'PackedRowTooNew';
  }
}

export interface PackedFeature {
  readonly name: string;
  readonly type: ValueType;
  readonly scalar: ScalarType;
  readonly list: boolean;
}

/** The event and created time of a packed row (its first 16 bytes). */
export function packedTimes(bytes: Buffer): { eventTime: number; createdTime: number } {
  return { eventTime: bytes.readDoubleBE(0), createdTime: bytes.readDoubleBE(8) };
}

/** Writes one scalar value of a packed row (exported for arrow-row-packer.ts, which packs the same bytes). */
export function writeScalar(w: Writer, type: ScalarType, v: unknown): void {
  switch (type) {
    case 'bool':
      if (typeof v !== 'boolean') fail(type, v);
      w.byte(v ? 1 : 0);
      return;
    case 'int32':
      if (checkValue(type, v) !== undefined) fail(type, v);
      w.int32(v as number);
      return;
    case 'int64':
      if (checkValue(type, v) !== undefined) fail(type, v);
      w.int64(typeof v === 'bigint' ? v : BigInt(v as number));
      return;
    case 'float32':
      if (typeof v !== 'number') fail(type, v);
      w.float(v);
      return;
    case 'float64':
    case 'timestamp':
      if (typeof v !== 'number') fail(type, v);
      w.double(v);
      return;
    case 'string':
      if (typeof v !== 'string') fail(type, v);
      w.utf8(v);
      return;
    case 'bytes':
      if (!(v instanceof Uint8Array)) fail(type, v);
      w.bytes(v);
      return;
  }
}

/** Writes one list value of a packed row (exported for arrow-row-packer.ts). */
export function writeList(w: Writer, feature: PackedFeature, v: unknown): void {
  if (!Array.isArray(v)) fail(feature.type, v);
  const items = v as unknown[];
  w.varint(items.length);
  const bitmapAt = w.skip((items.length + 7) >> 3);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || item === undefined) continue;
    try {
      writeScalar(w, feature.scalar, item);
    } catch (error) {
      throw new TypeError(`list item ${i}: ${(error as Error).message}`);
    }
    w.setBit(bitmapAt, i);
  }
}

function readScalar(r: Reader, type: ScalarType): FeatureValue {
  switch (type) {
    case 'bool':
      return r.byte() === 1;
    case 'int32':
      return r.int32();
    case 'int64':
      return r.int64();
    case 'float32':
      return r.float();
    case 'float64':
    case 'timestamp':
      return r.double();
    case 'string':
      return r.utf8();
    case 'bytes':
      return r.bytes();
  }
}

function readList(r: Reader, scalar: ScalarType): (FeatureValue | null)[] {
  const n = r.varint();
  const bitmapAt = r.skip((n + 7) >> 3);
  const out = new Array<FeatureValue | null>(n);
  for (let i = 0; i < n; i++) out[i] = r.bytesAt(bitmapAt + (i >> 3)) & (1 << (i & 7)) ? readScalar(r, scalar) : null;
  return out as FeatureValue[];
}

/** Appends to a growable buffer (the codec's scratch, reused between rows; arrow-row-packer.ts packs many rows into one). */
export class Writer {
  at = 0;
  constructor(public buffer: Buffer) {}

  private room(n: number): number {
    const at = this.at;
    if (at + n > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, at + n));
      this.buffer.copy(grown, 0, 0, at);
      this.buffer = grown;
    }
    this.at = at + n;
    return at;
  }

  /** Sets bit `i` of the bitmap at `at`. */
  setBit(at: number, i: number): void {
    const byte = at + (i >> 3);
    this.buffer[byte] = this.buffer[byte]! | (1 << (i & 7));
  }

  /** Reserves n zeroed bytes; returns where they start. */
  skip(n: number): number {
    const at = this.room(n);
    this.buffer.fill(0, at, at + n);
    return at;
  }
  byte(v: number): void {
    const at = this.room(1);
    this.buffer[at] = v;
  }
  int32(v: number): void {
    const at = this.room(4);
    this.buffer.writeInt32BE(v, at);
  }
  int64(v: bigint): void {
    const at = this.room(8);
    this.buffer.writeBigInt64BE(v, at);
  }
  float(v: number): void {
    const at = this.room(4);
    this.buffer.writeFloatBE(v, at);
  }
  double(v: number): void {
    const at = this.room(8);
    this.buffer.writeDoubleBE(v, at);
  }
  varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }
  utf8(v: string): void {
    const length = Buffer.byteLength(v, 'utf8');
    this.varint(length);
    const at = this.room(length);
    this.buffer.write(v, at, length, 'utf8');
  }
  bytes(v: Uint8Array): void {
    this.varint(v.byteLength);
    const at = this.room(v.byteLength);
    this.buffer.set(v, at);
  }
  /** `bytes` of source[start, end) without a view of it: a length, then the bytes (string and bytes values). */
  bytesOf(source: Uint8Array, start: number, end: number): void {
    this.varint(end - start);
    const at = this.room(end - start);
    this.buffer.set(source.subarray(start, end), at);
  }
  /** An int64 from its two 32-bit halves (as Arrow's little-endian buffers hold it), without a bigint. */
  int64Halves(hi: number, lo: number): void {
    const at = this.room(8);
    this.buffer.writeInt32BE(hi, at);
    this.buffer.writeUInt32BE(lo >>> 0, at + 4);
  }
}

class Reader {
  at = 0;
  constructor(private readonly buffer: Buffer) {}

  private take(n: number): number {
    const at = this.at;
    if (at + n > this.buffer.length) throw new Error(`packed row ends at byte ${this.buffer.length}, ${n} more needed at ${at}`);
    this.at = at + n;
    return at;
  }

  skip(n: number): number {
    return this.take(n);
  }
  bytesAt(at: number): number {
    return this.buffer[at]!;
  }
  byte(): number {
    return this.buffer[this.take(1)]!;
  }
  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.take(8));
  }
  float(): number {
    return this.buffer.readFloatBE(this.take(4));
  }
  double(): number {
    return this.buffer.readDoubleBE(this.take(8));
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  }
  utf8(): string {
    const n = this.varint();
    const at = this.take(n);
    return this.buffer.toString('utf8', at, at + n);
  }
  bytes(): Uint8Array {
    const n = this.varint();
    const at = this.take(n);
    return new Uint8Array(this.buffer.subarray(at, at + n));
  }
}

function fail(type: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new TypeError(`expected ${type}, got ${typeof value} ${shown.length > 60 ? shown.slice(0, 57) + '...' : shown}`);
}
