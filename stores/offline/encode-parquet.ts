import { tableToIPC, type Data, type Table } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { contiguousSlice, takeRows } from '../../arrow/take-rows.ts';
import { JOIN_KEY_METADATA } from '../../arrow/view-schema.ts';

/** Rows per Parquet row group: the unit a reader reads and holds at once. */
export const MAX_ROW_GROUP_ROWS = 128 * 1024;

/**
 * Encodes an Arrow table as Parquet the one way Granary writes it: zstd; dictionary encoding
 * only for join-key columns (fields marked with `granary.join_key`); row groups of at most
 * MAX_ROW_GROUP_ROWS rows, so readers decode one bounded piece at a time.
 *
 * Deterministic: the bytes depend only on the table's schema and rows, not on how its rows are
 * chunked in memory (the table is re-cut into one contiguous batch per row group) and no time goes
 * into the file. Encoding streams one row group at a time through wasm, so wasm memory stays
 * near one row group whatever the table's size.
 *
 * @example
 *   const bytes = await encodeParquet(table);
 *   (await encodeParquet(table)).every((b, i) => b === bytes[i]) // => true
 */
export async function encodeParquet(table: Table): Promise<Uint8Array> {
  if (table.numRows === 0) {
    // No batches to stream: write the schema alone.
    return parquet.writeParquet(parquet.Table.fromIPCStream(tableToIPC(table, 'stream')), writerProperties(table));
  }
  let start = 0;
  const batches = new ReadableStream<parquet.RecordBatch>({
    pull(controller) {
      if (start >= table.numRows) {
        controller.close();
        return;
      }
      const end = Math.min(table.numRows, start + MAX_ROW_GROUP_ROWS);
      const piece = parquet.Table.fromIPCStream(tableToIPC(unshared(contiguousSlice(table, start, end)), 'stream'));
      start = end;
      try {
        for (const batch of piece.recordBatches()) controller.enqueue(batch);
      } finally {
        piece.free();
      }
    },
  });
  const output = await parquet.transformParquetStream(batches, writerProperties(table));
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of output as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    length += chunk.length;
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/**
 * Arrow JS 21 writes corrupt IPC when two columns hold the very same buffer view (e.g. one
 * typed array used for both timestamps): copy the piece then.
 */
function unshared(piece: Table): Table {
  const seen = new Map<ArrayBufferLike, Set<string>>();
  const shares = (data: Data): boolean =>
    [data.values, data.valueOffsets, data.nullBitmap].some((view: ArrayBufferView | undefined) => {
      if (!view || view.byteLength === 0) return false;
      const spans = seen.get(view.buffer) ?? new Set<string>();
      seen.set(view.buffer, spans);
      const span = `${view.byteOffset}:${view.byteLength}`;
      if (spans.has(span)) return true;
      spans.add(span);
      return false;
    }) || data.children.some(shares);
  if (!piece.batches.some((b) => b.data.children.some(shares))) return piece;
  return takeRows(piece, Int32Array.from({ length: piece.numRows }, (_, i) => i));
}

function writerProperties(table: Table): parquet.WriterProperties {
  let builder = new parquet.WriterPropertiesBuilder()
    .setCompression(parquet.Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setMaxRowGroupSize(MAX_ROW_GROUP_ROWS);
  for (const field of table.schema.fields) {
    if (field.metadata.get(JOIN_KEY_METADATA) === 'true') builder = builder.setColumnDictionaryEnabled(field.name, true);
  }
  return builder.build();
}
