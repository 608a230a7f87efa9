import { makeData, RecordBatch, Struct, Table, Type, type Data, type DataType } from 'apache-arrow';

/**
 * Copies the given rows of a table, in the given order, into one contiguous record batch with the
 * same schema. Works on raw buffers (no per-cell boxing), for the column types of view schemas:
 * fixed-width numbers, timestamps and dates, bool, utf8, binary and lists of them (others throw).
 *
 * @example
 *   takeRows(table, Int32Array.of(4, 0)).numRows // => 2 (rows 4 then 0)
 */
export function takeRows(table: Table, rows: Int32Array): Table {
  const n = rows.length;
  if (table.batches.length === 0) {
    if (n > 0) throw new RangeError('takeRows: the table has no rows');
    return table;
  }
  const starts: number[] = [];
  let total = 0;
  for (const b of table.batches) {
    starts.push(total);
    total += b.numRows;
  }
  const chunk = new Int32Array(n);
  const local = new Int32Array(n);
  let c = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    if (row < 0 || row >= total) throw new RangeError(`row ${row} is outside the table (0..${total - 1})`);
    // Rows usually come in ascending runs: move from the last chunk before searching.
    if (row < starts[c]! || (c + 1 < starts.length && row >= starts[c + 1]!)) c = chunkOf(starts, row);
    chunk[i] = c;
    local[i] = row - starts[c]!;
  }
  const fields = table.schema.fields;
  const children = fields.map((_, f) =>
    takeData(table.batches.map((b) => b.data.children[f]!), chunk, local),
  );
  const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return new Table([new RecordBatch(table.schema, data)]);
}

/** Rows [start, end) of a table as one contiguous batch (no copy when they are already in one). */
export function contiguousSlice(table: Table, start: number, end: number): Table {
  const slice = table.slice(start, end);
  if (slice.batches.length <= 1) return slice;
  const rows = new Int32Array(end - start);
  for (let i = 0; i < rows.length; i++) rows[i] = start + i;
  return takeRows(table, rows);
}

/** The index of the chunk holding `row`, given each chunk's first row (`starts`, ascending): a binary search. */
export function chunkOf(starts: readonly number[], row: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function takeData(datas: Data[], chunk: Int32Array, local: Int32Array): Data {
  const type = datas[0]?.type as DataType;
  const n = chunk.length;
  const { nullBitmap, nullCount } = takeValidity(datas, chunk, local);
  switch (type.typeId) {
    case Type.Bool: {
      const values = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) {
        const d = datas[chunk[i]!]!;
        if (bitAt(d.values as Uint8Array, d.offset + local[i]!)) values[i >> 3]! |= 1 << (i & 7);
      }
      return makeData({ type, length: n, nullCount, nullBitmap, data: values } as never);
    }
    case Type.Utf8:
    case Type.Binary: {
      const offsets = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) {
        const o = datas[chunk[i]!]!.valueOffsets as Int32Array;
        const l = local[i]!;
        offsets[i + 1] = offsets[i]! + (o[l + 1]! - o[l]!);
      }
      const values = new Uint8Array(offsets[n]!);
      for (let i = 0; i < n; i++) {
        const d = datas[chunk[i]!]!;
        const o = d.valueOffsets as Int32Array;
        const l = local[i]!;
        if (o[l + 1]! > o[l]!) values.set((d.values as Uint8Array).subarray(o[l]!, o[l + 1]!), offsets[i]!);
      }
      return makeData({ type, length: n, nullCount, nullBitmap, valueOffsets: offsets, data: values } as never);
    }
    case Type.List: {
      const offsets = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) {
        const o = datas[chunk[i]!]!.valueOffsets as Int32Array;
        const l = local[i]!;
        offsets[i + 1] = offsets[i]! + (o[l + 1]! - o[l]!);
      }
      const childChunk = new Int32Array(offsets[n]!);
      const childLocal = new Int32Array(offsets[n]!);
      for (let i = 0, k = 0; i < n; i++) {
        const o = datas[chunk[i]!]!.valueOffsets as Int32Array;
        const l = local[i]!;
        for (let j = o[l]!; j < o[l + 1]!; j++, k++) {
          childChunk[k] = chunk[i]!;
          childLocal[k] = j;
        }
      }
      const child = takeData(datas.map((d) => d.children[0]!), childChunk, childLocal);
      return makeData({ type, length: n, nullCount, nullBitmap, valueOffsets: offsets, child } as never);
    }
    default: {
      const first = datas[0]!;
      const sample = first.values as Int32Array;
      if (!ArrayBuffer.isView(sample) || first.valueOffsets || first.children.length > 0) {
        throw new TypeError(`takeRows does not support column type ${type}`);
      }
      const width = sample.BYTES_PER_ELEMENT * (first.stride || 1);
      const out = new (sample.constructor as new (n: number) => Int32Array)(n * (first.stride || 1));
      // Copy 32-bit words (or bytes for narrow types): exact, and never boxes bigints or canonicalizes NaNs.
      const unit = width % 4 === 0 ? 4 : 1;
      const View: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Int32Array | Uint8Array =
        unit === 4 ? Int32Array : Uint8Array;
      const per = width / unit;
      const target = new View(out.buffer, out.byteOffset, (n * width) / unit);
      const sources = datas.map((d) => {
        const v = d.values as ArrayBufferView;
        return new View(v.buffer, v.byteOffset, v.byteLength / unit);
      });
      for (let i = 0; i < n; i++) {
        const src = sources[chunk[i]!]!;
        const from = local[i]! * per;
        const to = i * per;
        for (let w = 0; w < per; w++) target[to + w] = src[from + w]!;
      }
      return makeData({ type, length: n, nullCount, nullBitmap, data: out } as never);
    }
  }
}

function takeValidity(datas: Data[], chunk: Int32Array, local: Int32Array): { nullBitmap: Uint8Array; nullCount: number } {
  const n = chunk.length;
  if (datas.every((d) => d.nullCount === 0)) return { nullBitmap: new Uint8Array(0), nullCount: 0 };
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const d = datas[chunk[i]!]!;
    if (d.nullCount === 0 || bitAt(d.nullBitmap as Uint8Array, d.offset + local[i]!)) bitmap[i >> 3]! |= 1 << (i & 7);
    else nulls++;
  }
  return { nullBitmap: bitmap, nullCount: nulls };
}

function bitAt(bits: Uint8Array, i: number): number {
  return (bits[i >> 3]! >> (i & 7)) & 1;
}
