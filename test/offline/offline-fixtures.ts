import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { localStack } from '../../config/local-stack.ts';
import { entity } from '../../definitions/entity.ts';
import { featureView } from '../../definitions/feature-view.ts';
import { parquetSource } from '../../definitions/source.ts';
import { createOfflineStore } from '../../stores/offline/create-offline-store.ts';
import type { OfflineStore } from '../../stores/offline/offline-store.ts';
import { tempDir } from '../support/temp-dir.ts';

/** A view with two entities (string and int64 join keys) and a feature of every value type. */
export const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
export const merchant = entity({ name: 'merchant', joinKey: 'merchant_id', valueType: 'int64' });
export const events = parquetSource({
  name: 'events',
  path: 'data/events',
  eventTimestampColumn: 'event_timestamp',
  createdTimestampColumn: 'created_timestamp',
});

export const everyType = featureView({
  name: 'every_type',
  entities: [user, merchant],
  source: events,
  ttl: '1d',
  schema: [
    { name: 'f_bool', type: 'bool' },
    { name: 'f_int32', type: 'int32' },
    { name: 'f_int64', type: 'int64' },
    { name: 'f_float32', type: 'float32' },
    { name: 'f_float64', type: 'float64', nullable: false, allowNonFinite: true },
    { name: 'f_string', type: 'string' },
    { name: 'f_bytes', type: 'bytes' },
    { name: 'f_timestamp', type: 'timestamp' },
    { name: 'f_list_int64', type: 'list<int64>' },
    { name: 'f_list_string', type: 'list<string>' },
    { name: 'f_list_float32', type: 'list<float32>' },
    { name: 'f_list_bool', type: 'list<bool>' },
    { name: 'f_list_timestamp', type: 'list<timestamp>' },
  ],
});

/** A view with one string entity, an event timestamp only, and a few numeric features. */
export const spend = featureView({
  name: 'user_spend',
  entities: [user],
  source: parquetSource({ name: 'spend_source', path: 'data/spend' }),
  ttl: '1d',
  schema: [
    { name: 'spend_7d_avg', type: 'float32' },
    { name: 'txn_count_7d', type: 'int64' },
    { name: 'is_vip', type: 'bool', nullable: false },
  ],
});

export const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Rows of `everyType` covering every type, nulls (cells and list items) and edge values. */
export function everyTypeRows(): Record<string, unknown>[] {
  return [
    {
      user_id: 'u1', merchant_id: 9_007_199_254_740_993n, event_timestamp: T0, created_timestamp: T0 + 1,
      f_bool: true, f_int32: -2_147_483_648, f_int64: -(2n ** 63n), f_float32: 1.5, f_float64: Math.PI,
      f_string: 'héllo ✓', f_bytes: new Uint8Array([0, 255, 7]), f_timestamp: T0 - 86_400_000,
      f_list_int64: [1n, null, 2n ** 63n - 1n], f_list_string: ['a', null, ''], f_list_float32: [0.25, -1],
      f_list_bool: [true, false, null], f_list_timestamp: [T0, null],
    },
    {
      user_id: 'u2', merchant_id: -1n, event_timestamp: T0 + 1000, created_timestamp: null,
      f_bool: null, f_int32: null, f_int64: null, f_float32: null, f_float64: 0,
      f_string: null, f_bytes: null, f_timestamp: null,
      f_list_int64: null, f_list_string: null, f_list_float32: null, f_list_bool: null, f_list_timestamp: null,
    },
    {
      user_id: '', merchant_id: 0n, event_timestamp: new Date(T0 + 2000),
      f_bool: false, f_int32: 2_147_483_647, f_int64: 0n, f_float32: -0.5, f_float64: NaN,
      f_string: '', f_bytes: new Uint8Array([]), f_timestamp: 0,
      f_list_int64: [], f_list_string: [], f_list_float32: [], f_list_bool: [], f_list_timestamp: [],
    },
  ];
}

export interface Backend {
  readonly name: string;
  /** A fresh, empty store for one test, removed after it. */
  open(t: TestContext): Promise<OfflineStore>;
}

/** The local folder store, in a fresh folder under .granary/tmp, removed after the test. */
export const localBackend: Backend = {
  name: 'local',
  async open(t) {
    const path = await tempDir('offline');
    const store = createOfflineStore({ kind: 'local', path });
    await store.ensureReady();
    t.after(async () => {
      await store.close();
      await rm(path, { recursive: true, force: true });
    });
    return store;
  },
};

/**
 * The stack's real MinIO (`npm run stack -- up`), under a prefix of its own per test; the test
 * creates the bucket when missing and deletes its objects after.
 */
export const s3Backend: Backend = {
  name: 's3 (MinIO)',
  async open(t) {
    const { minio } = localStack();
    const store = createOfflineStore({
      kind: 's3',
      bucket: minio.bucket,
      prefix: `tests/offline-${randomBytes(6).toString('hex')}`,
      s3: {
        endpoint: minio.endpoint,
        region: 'us-east-1',
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
        forcePathStyle: true,
      },
    });
    try {
      await store.ensureReady();
    } catch (error) {
      await store.close();
      throw new Error(`MinIO at ${minio.endpoint}: ${(error as Error).message}; is the stack up? (npm run stack -- up)`);
    }
    t.after(async () => {
      for await (const object of store.list('')) await store.delete(object.key);
      await store.close();
    });
    return store;
  },
};

export const BACKENDS: readonly Backend[] = [localBackend, s3Backend];

export async function listKeys(store: OfflineStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}
