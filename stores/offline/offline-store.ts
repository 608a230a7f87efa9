import type { Table } from 'apache-arrow';

/**
 * The offline store's contract: immutable Parquet objects at deterministic keys, on S3 or on the
 * local filesystem. Visibility is not the store's business: an object counts only once the
 * registry holds its commit row. Keys are relative to the store's root (bucket/prefix or folder).
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

export interface OfflineStore {
  readonly kind: 'local' | 's3';
  /** Human-readable root, e.g. 's3://granary/offline' or '/repo/.granary/offline'. */
  readonly root: string;
  /** Encodes the table as Parquet (zstd) and writes it at key; same table, same bytes. */
  writeTable(key: string, table: Table): Promise<ObjectInfo>;
  /** Reads an object one row group at a time, so memory stays bounded whatever its size. */
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
