import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Table } from 'apache-arrow';
import { encodeParquet } from './encode-parquet.ts';
import { checkStoreKey, checkStorePrefix } from './object-key.ts';
import { objectInfo } from './object-info.ts';
import { ObjectNotFoundError } from './object-not-found-error.ts';
import type { ObjectInfo, OfflineCapabilities, OfflineStore, ReadOptions, RowGroupBatch, StoredObject } from './offline-store.ts';
import { readRowGroups } from './read-row-groups.ts';

/** Where a local offline store keeps its objects. */
export interface LocalOfflineStoreConfig {
  /** The folder holding the objects; created by ensureReady. */
  readonly path: string;
}

const TEMP_MARK = '.tmp-';

/**
 * The offline store in a local folder: each key is a file under the folder. Writes go to a
 * hidden temporary file in the same folder, are flushed, then renamed over the key, so a reader
 * sees the old object or the new one, never part of one.
 *
 * @example
 *   const store = new LocalOfflineStore({ path: '.granary/offline' });
 *   await store.ensureReady();
 *   await store.writeTable('fraud/user_spend/v1/date=2024-05-01/b1.parquet', table);
 *   // => { key: 'fraud/...', rowCount: 3, bytes: 2817, checksum: '9f2c...' }
 */
export class LocalOfflineStore implements OfflineStore {
  readonly kind = 'local' as const;
  readonly root: string;
  readonly capabilities: OfflineCapabilities = Object.freeze({ localFiles: true });

  constructor(config: LocalOfflineStoreConfig) {
    this.root = resolve(config.path);
  }

  localPath(key: string): string {
    return join(this.root, checkStoreKey(key));
  }

  async writeTable(key: string, table: Table): Promise<ObjectInfo> {
    const bytes = await encodeParquet(table);
    await this.putBytes(key, bytes);
    return objectInfo(key, table.numRows, bytes);
  }

  async *readTable(key: string, options?: ReadOptions): AsyncIterable<RowGroupBatch> {
    const path = this.localPath(key);
    let blob: Blob;
    try {
      // openAsBlob's own error for a missing file carries no code: look first.
      if (!(await stat(path)).isFile()) throw Object.assign(new Error(`${path} is not a file`), { code: 'ENOENT' });
      blob = await openAsBlob(path);
    } catch (error) {
      throw this.notFound(error, key);
    }
    yield* readRowGroups(blob, options, `${this.root}/${key}`);
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}${TEMP_MARK}${key.split('/').pop()}`);
    try {
      const file = await open(temp, 'wx');
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async getBytes(key: string): Promise<Uint8Array> {
    try {
      const buffer = await readFile(this.localPath(key));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw this.notFound(error, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.localPath(key))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Objects whose key starts with prefix, in key order (as S3 lists them). */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkStorePrefix(prefix);
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    await this.walk(folder, keys);
    keys.sort();
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      try {
        const info = await stat(join(this.root, key));
        yield { key, bytes: info.size, lastModified: info.mtime };
      } catch (error) {
        if (!isMissing(error)) throw error; // deleted since the walk
      }
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.localPath(key), { force: true });
  }

  async ensureReady(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async close(): Promise<void> {}

  private async walk(folder: string, into: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(this.root, folder), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temporary files of writes in flight
      const key = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(key, into);
      else if (entry.isFile()) into.push(key);
    }
  }

  private notFound(error: unknown, key: string): unknown {
    return isMissing(error) ? new ObjectNotFoundError(key, this.root) : error;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'EISDIR';
}
