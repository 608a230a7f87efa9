import type { Table } from 'apache-arrow';

/**
 * The offline store's contract: immutable Parquet objects at deterministic keys, on S3 or on the
 * local filesystem. Visibility is not the store's business: an object counts only once the
 * registry holds its commit row. Keys are relative to the store's root (bucket/prefix or folder)
 * and checked by checkStoreKey (object-key.ts). Every write is atomic: a reader sees the old
 * object or the new one, never part of one.
 */
export interface ObjectInfo {
  readonly key: string;
  readonly rowCount: number;
  readonly bytes: number;
  /** Hex SHA-256 of the object's bytes. */
  readonly checksum: string;
}

export interface StoredObject {
  readonly key: string;
  readonly bytes: number;
  readonly lastModified: Date;
}

export interface ReadOptions {
  /** Only these columns (all when omitted). */
  readonly columns?: readonly string[];
  /** Start at this row group (to resume); default 0. */
  readonly fromRowGroup?: number;
}

export interface RowGroupBatch {
  readonly rowGroup: number;
  readonly rowGroupCount: number;
  readonly table: Table;
}

/** What a backend can do beyond the common contract. Callers branch on these, never on `kind`. */
export interface OfflineCapabilities {
  /** Objects are files on this machine: `localPath(key)` works (e.g. for engines that read files). */
  readonly localFiles: boolean;
}

export interface OfflineStore {
  readonly kind: 'local' | 's3';
  /** Human-readable root, e.g. 's3://granary/offline' or '/repo/.granary/offline'. */
  readonly root: string;
  readonly capabilities: OfflineCapabilities;
  /** The file holding key; throws unless capabilities.localFiles. */
  localPath(key: string): string;
  /**
   * Encodes the table as Parquet (see encodeParquet: zstd, row groups of at most 128Ki rows,
   * dictionary only for join keys) and writes it at key; same rows, same bytes.
   */
  writeTable(key: string, table: Table): Promise<ObjectInfo>;
  /**
   * Reads an object one row group at a time, so memory stays bounded whatever its size.
   * getBytes and readTable throw ObjectNotFoundError when key holds no object.
   */
  readTable(key: string, options?: ReadOptions): AsyncIterable<RowGroupBatch>;
  /** Raw bytes in and out, for staging uploads and copies. */
  putBytes(key: string, bytes: Uint8Array): Promise<void>;
  getBytes(key: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): AsyncIterable<StoredObject>;
  delete(key: string): Promise<void>;
  /** Creates the bucket or folder when missing. */
  ensureReady(): Promise<void>;
  close(): Promise<void>;
}
