import { tableFromIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import type { ReadOptions, RowGroupBatch } from './offline-store.ts';

/**
 * Reads a Parquet file one row group at a time through parquet-wasm's async reader, which fetches
 * only the byte ranges it needs from the Blob (a file-backed Blob from `fs.openAsBlob` reads
 * from disk on demand). Each row group is decoded in wasm as one batch (batchSize = its row
 * count: the reader preallocates for batchSize rows, so a huge batchSize costs wasm memory and a
 * small one costs time), moved to an Arrow JS table and freed in wasm before the next, so decoded
 * memory stays near one row group.
 *
 * @example
 *   for await (const { rowGroup, rowGroupCount, table } of readRowGroups(await openAsBlob(path), { columns: ['user_id'] })) {
 *     console.log(rowGroup, rowGroupCount, table.numRows); // 0 16 131072 ...
 *   }
 */
export async function* readRowGroups(blob: Blob, options: ReadOptions = {}, name = 'parquet file'): AsyncGenerator<RowGroupBatch> {
  const file = await named(name, () => parquet.ParquetFile.fromFile(blob));
  try {
    const metadata = file.metadata();
    const rowGroupCount = metadata.numRowGroups();
    const rowCounts = Array.from({ length: rowGroupCount }, (_, i) => {
      const group = metadata.rowGroup(i);
      const rows = group.numRows();
      group.free();
      return rows;
    });
    metadata.free();
    const from = options.fromRowGroup ?? 0;
    if (!Number.isSafeInteger(from) || from < 0 || from > rowGroupCount) {
      throw new RangeError(`${name}: fromRowGroup must be a whole number from 0 to ${rowGroupCount}, got ${from}`);
    }
    const columns = options.columns ? checkColumns(file, options.columns, name) : undefined;
    for (let rowGroup = from; rowGroup < rowGroupCount; rowGroup++) {
      // One batch per row group; the reader preallocates for batchSize rows, so no more than that.
      const batchSize = Math.max(1, rowCounts[rowGroup]!);
      const decoded = await named(name, () => file.read({ rowGroups: [rowGroup], batchSize, ...(columns ? { columns } : {}) }));
      // intoIPCStream consumes (frees) the wasm table.
      let table = tableFromIPC(decoded.intoIPCStream());
      if (columns) table = table.select(columns);
      yield { rowGroup, rowGroupCount, table };
    }
  } finally {
    file.free();
  }
}

/** parquet-wasm's errors say what is wrong but not with which file: prefix its name. */
async function named<T>(name: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${name}: cannot read the Parquet file: ${message}`, { cause: error });
  }
}

function checkColumns(file: parquet.ParquetFile, columns: readonly string[], name: string): string[] {
  if (columns.length === 0) throw new RangeError(`${name}: columns, when given, must name at least one column`);
  const present = new Set(tableFromIPC(file.schema().intoIPCStream()).schema.fields.map((f) => f.name));
  const missing = columns.filter((c) => !present.has(c));
  if (missing.length > 0) {
    throw new RangeError(`${name}: no column ${missing.map((c) => `'${c}'`).join(', ')} (it has ${[...present].join(', ')})`);
  }
  return [...new Set(columns)];
}
