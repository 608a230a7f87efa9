import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import type { Table } from 'apache-arrow';
import { encodeParquet } from './encode-parquet.ts';
import { checkStoreKey, checkStorePrefix } from './object-key.ts';
import { objectInfo } from './object-info.ts';
import { ObjectNotFoundError } from './object-not-found-error.ts';
import { OfflineStoreUnavailableError } from './offline-store-unavailable-error.ts';
import type { ObjectInfo, OfflineCapabilities, OfflineStore, ReadOptions, RowGroupBatch, StoredObject } from './offline-store.ts';
import { readRowGroups } from './read-row-groups.ts';

/** The bucket, prefix and S3 client settings of an S3 offline store. */
export interface S3OfflineStoreConfig {
  readonly bucket: string;
  /** Folder inside the bucket; '' for the bucket's root. */
  readonly prefix?: string;
  /** e.g. 'http://127.0.0.1:19000' for MinIO; null or absent for AWS. */
  readonly endpoint?: string | null;
  /** Defaults to 'us-east-1'. */
  readonly region?: string;
  /** Bucket in the path rather than the host name (MinIO needs it). */
  readonly forcePathStyle?: boolean;
  /** Static credentials; absent or null uses the AWS default chain (environment, profile, role). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | null;
  /** With an https endpoint: the PEM of the CA to trust in place of Node's (a private CA; config `offline.s3.tlsCa`). */
  readonly tlsCa?: string;
}

/**
 * The offline store in an S3 bucket (AWS, or MinIO and friends through `endpoint` and
 * `forcePathStyle`). Keys live under `prefix`. A PutObject is atomic: readers see the old object
 * or the new one. Each upload carries its SHA-256, which S3 verifies before accepting it.
 * readTable fetches the object once and decodes it one row group at a time, so memory holds the
 * compressed object plus one decoded row group.
 *
 * @example
 *   const store = new S3OfflineStore({
 *     bucket: 'granary', prefix: 'offline', endpoint: 'http://127.0.0.1:19000', forcePathStyle: true,
 *     credentials: { accessKeyId: 'granary', secretAccessKey: 'granary-secret' },
 *   });
 *   store.root // => 's3://granary/offline'
 */
export class S3OfflineStore implements OfflineStore {
  readonly kind = 's3' as const;
  readonly root: string;
  readonly capabilities: OfflineCapabilities = Object.freeze({ localFiles: false });
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  /** Where S3 is, for messages: the endpoint, or AWS's for the region. */
  private readonly endpoint: string;

  constructor(config: S3OfflineStoreConfig) {
    this.bucket = config.bucket;
    this.prefix = (config.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (this.prefix !== '') checkStoreKey(this.prefix, 'prefix');
    this.root = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.endpoint = config.endpoint ?? `AWS S3 (${config.region ?? 'us-east-1'})`;
    const client = new S3Client({
      region: config.region ?? 'us-east-1',
      forcePathStyle: config.forcePathStyle ?? false,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.credentials ? { credentials: { ...config.credentials } } : {}),
      // The SDK's Node handler takes its options directly; keepAlive and maxSockets as its default agent's.
      ...(config.tlsCa ? { requestHandler: { httpsAgent: new HttpsAgent({ ca: config.tlsCa, keepAlive: true, maxSockets: 50 }) } } : {}),
    });
    // Connection failures and refused credentials name the offline store, the endpoint and what to
    // check (OfflineStoreUnavailableError), whichever call meets them; other errors pass unchanged.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          const kind = OfflineStoreUnavailableError.kindOf(error);
          if (!kind) throw error;
          throw new OfflineStoreUnavailableError(this.root, this.endpoint, operationName(context.commandName), error, kind);
        }
      },
      { step: 'initialize', name: 'granaryOfflineStoreErrors' },
    );
    this.client = client;
  }

  localPath(key: string): string {
    throw new Error(`${this.root}/${key} is in S3, not a local file (check capabilities.localFiles first)`);
  }

  async writeTable(key: string, table: Table): Promise<ObjectInfo> {
    const bytes = await encodeParquet(table);
    await this.putBytes(key, bytes);
    return objectInfo(key, table.numRows, bytes);
  }

  async *readTable(key: string, options?: ReadOptions): AsyncIterable<RowGroupBatch> {
    const bytes = await this.getBytes(key);
    yield* readRowGroups(new Blob([bytes as Uint8Array<ArrayBuffer>]), options, `${this.root}/${key}`);
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.fullKey(key),
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType: 'application/octet-stream',
        ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
      }),
    );
  }

  async getBytes(key: string): Promise<Uint8Array> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      if (!response.Body) throw new Error(`${this.root}/${key}: GetObject returned no body`);
      return await response.Body.transformToByteArray();
    } catch (error) {
      throw isNotFound(error) ? new ObjectNotFoundError(key, this.root) : error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const full = this.prefix === '' ? checkStorePrefix(prefix) : `${this.prefix}/${checkStorePrefix(prefix)}`;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        yield {
          key: this.prefix === '' ? object.Key : object.Key.slice(this.prefix.length + 1),
          bytes: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
  }

  async ensureReady(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private fullKey(key: string): string {
    checkStoreKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }
}

/** 'PutObjectCommand' -> 'PutObject'. */
function operationName(commandName: string | undefined): string {
  return (commandName ?? 'S3 call').replace(/Command$/, '');
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchBucket' || e?.$metadata?.httpStatusCode === 404;
}
