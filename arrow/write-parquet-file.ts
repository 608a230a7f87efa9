import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Table, tableToIPC, type RecordBatch, type Schema } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { MAX_ROW_GROUP_ROWS } from '../stores/offline/encode-parquet.ts';

/**
 * Streams record batches into a local Parquet file, one batch at a time through wasm, so a
 * result far larger than memory can be written (encodeParquet holds the whole file). zstd, no
 * dictionaries, row groups of at most 128Ki rows, like the offline store's objects. The file
 * appears at `path` only when complete (written beside it, then renamed).
 *
 * @example
 *   await writeParquetFile('train.parquet', schema, historicalJoin(offline, input)) // => { rows: 1000000, bytes: 48213377 }
 */
export async function writeParquetFile(path: string, schema: Schema, batches: AsyncIterable<RecordBatch>): Promise<{ rows: number; bytes: number }> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const iterator = batches[Symbol.asyncIterator]();
  const first = await iterator.next();
  let rows = 0;
  let bytes = 0;
  let pending: RecordBatch | undefined = first.done ? undefined : first.value;
  const stream = new ReadableStream<parquet.RecordBatch>({
    async pull(controller) {
      const next = pending ? { done: false as const, value: pending } : await iterator.next();
      pending = undefined;
      if (next.done) {
        controller.close();
        return;
      }
      rows += next.value.numRows;
      const piece = parquet.Table.fromIPCStream(tableToIPC(new Table([next.value]), 'stream'));
      try {
        for (const batch of piece.recordBatches()) controller.enqueue(batch);
      } finally {
        piece.free();
      }
    },
  });
  const properties = new parquet.WriterPropertiesBuilder()
    .setCompression(parquet.Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setMaxRowGroupSize(MAX_ROW_GROUP_ROWS)
    .build();
  const file = await open(temp, 'wx');
  try {
    if (first.done) {
      // No rows: the streaming writer needs a batch, so write the schema alone.
      const empty = parquet.writeParquet(parquet.Table.fromIPCStream(tableToIPC(new Table(schema), 'stream')), properties);
      await file.write(empty);
      bytes = empty.length;
    } else {
      const output = await parquet.transformParquetStream(stream, properties);
      for await (const chunk of output as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        bytes += chunk.length;
      }
    }
    await file.sync();
    await file.close();
    await rename(temp, path);
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    await iterator.return?.();
    throw error;
  }
  return { rows, bytes };
}
