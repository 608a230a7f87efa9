import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordBatch, Table, tableFromIPC, tableToIPC, type Schema } from 'apache-arrow';

/**
 * Rows spilled to local disk by partition, as Arrow IPC files in a temporary folder: what keeps
 * a historical retrieval's memory bounded when its feature rows do not fit. Rows appended to a
 * partition are buffered, then written as one file per flush (`p0003-c0002.arrow`), so a
 * partition reads back in the order its rows were appended.
 *
 * @example
 *   const spill = new SpillFiles(dir, 'features', schema, 16);
 *   await spill.append(3, table);      // buffered; flushed to disk past flushRows buffered rows
 *   await spill.flush();
 *   (await spill.readPartition(3)).numRows // => table.numRows
 */
export class SpillFiles {
  private readonly buffers: RecordBatch[][];
  private readonly chunks: string[][];
  private buffered = 0;
  private written = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    readonly schema: Schema,
    readonly partitions: number,
    private readonly flushRows = 1 << 20,
  ) {
    this.buffers = Array.from({ length: partitions }, () => []);
    this.chunks = Array.from({ length: partitions }, () => []);
  }

  /** Rows written to disk so far. */
  get rowsWritten(): number {
    return this.written;
  }

  async append(partition: number, table: Table): Promise<void> {
    if (table.numRows === 0) return;
    this.buffers[partition]!.push(...table.batches);
    this.buffered += table.numRows;
    if (this.buffered >= this.flushRows) await this.flush();
  }

  /** Writes what is buffered: one file per partition that has rows. */
  async flush(): Promise<void> {
    for (let p = 0; p < this.partitions; p++) {
      const batches = this.buffers[p]!;
      if (batches.length === 0) continue;
      await this.writeChunk(p, new Table(this.schema, batches.map((b) => new RecordBatch(this.schema, b.data))));
      this.buffers[p] = [];
    }
    this.buffered = 0;
  }

  /** Writes a table as the partition's next file now, without buffering. */
  async writeChunk(partition: number, table: Table): Promise<void> {
    const path = join(this.dir, `${this.name}-p${String(partition).padStart(4, '0')}-c${String(this.chunks[partition]!.length).padStart(4, '0')}.arrow`);
    await writeFile(path, tableToIPC(table, 'stream'));
    this.chunks[partition]!.push(path);
    this.written += table.numRows;
  }

  /** The partition's files, in the order written. */
  files(partition: number): readonly string[] {
    return this.chunks[partition]!;
  }

  async readChunk(path: string): Promise<Table> {
    const table = tableFromIPC(await readFile(path));
    return new Table(this.schema, table.batches.map((b) => new RecordBatch(this.schema, b.data)));
  }

  /** Every row of the partition (flush first), in append order. */
  async readPartition(partition: number): Promise<Table> {
    const batches: RecordBatch[] = [];
    for (const path of this.files(partition)) batches.push(...(await this.readChunk(path)).batches);
    return new Table(this.schema, batches);
  }
}
