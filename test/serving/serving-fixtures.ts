import { after } from 'node:test';
import { Redis } from 'ioredis';
import type { GranaryConfig } from '../../config/granary-config.ts';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource, type FeatureView } from '../../definitions/index.ts';
import { onlineTargetOf, type OnlineRead, type OnlineRow, type OnlineStore, type OnlineTarget } from '../../stores/online/online-store.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { deleteKeys } from '../online/online-fixtures.ts';
import { testConfig } from '../support/test-config.ts';

/**
 * The serving tests' feature repo: string, int64 and composite entities, views with short and
 * long TTLs and every kind of value, and two feature services.
 */
export const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
export const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
export const merchant = entity({ name: 'merchant', joinKey: 'merchant_id', valueType: 'string' });
const source = (name: string) => parquetSource({ name, path: `data/${name}` });

export const userProfile = featureView({
  name: 'user_profile',
  entities: [user],
  source: source('profiles'),
  schema: [
    { name: 'age', type: 'int32' },
    { name: 'country', type: 'string' },
    { name: 'score', type: 'float64' },
    { name: 'tags', type: 'list<string>' },
  ],
  ttl: '1d',
});
export const userSpend = featureView({
  name: 'user_spend',
  entities: [user],
  source: source('spend'),
  schema: [
    { name: 'spend_7d', type: 'float32' },
    { name: 'txn_count', type: 'int64' },
  ],
  ttl: '1h',
});
export const driverStats = featureView({
  name: 'driver_stats',
  entities: [driver],
  source: source('drivers'),
  schema: [
    { name: 'conv_rate', type: 'float64' },
    { name: 'trips', type: 'int64' },
    { name: 'last_seen', type: 'timestamp' },
    { name: 'photo', type: 'bytes' },
  ],
  ttl: '2d',
});
export const userMerchant = featureView({
  name: 'user_merchant',
  entities: [user, merchant],
  source: source('user_merchant'),
  schema: [{ name: 'merchant_txns', type: 'int64' }],
  ttl: '1d',
});
/** Its order is not the views' order: the response must follow it. */
export const fraudModel = featureService({
  name: 'fraud_model',
  features: ['user_spend:txn_count', { view: userProfile, features: ['country', 'age'] }, 'user_merchant:merchant_txns', 'user_spend:spend_7d'],
});
export const driverModel = featureService({ name: 'driver_model', features: [driverStats] });

export const servingRepo = buildFeatureRepo('.', [
  { definition: userProfile },
  { definition: userSpend },
  { definition: driverStats },
  { definition: userMerchant },
  { definition: fraudModel },
  { definition: driverModel },
]);

export interface ServingFixture {
  readonly config: GranaryConfig;
  readonly env: Record<string, string>;
  readonly registry: PostgresRegistry;
  /** A fail-fast store on the test's key prefix. */
  readonly online: RedisOnlineStore;
  /** The same store, counting readRows calls. */
  readonly counting: CountingOnlineStore;
  /** Writes rows to the view's active generation (or the one given). */
  write(view: FeatureView, rows: readonly OnlineRow[], generation?: number): Promise<void>;
  target(view: FeatureView, generation: number): OnlineTarget;
}

/** A project of its own with servingRepo applied; everything closed and deleted after the file. */
export async function servingFixture(name: string, options: { readonly redisUrl?: string } = {}): Promise<ServingFixture> {
  const { config, env } = testConfig(name, options.redisUrl ? { GRANARY_REDIS_URL: options.redisUrl } : {});
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  await registry.apply(servingRepo);
  const online = new RedisOnlineStore({ url: config.online.url, keyPrefix: config.online.keyPrefix, failFast: true, commandTimeoutMs: 1000 });
  await online.ping();
  const raw = new Redis(config.online.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  raw.on('error', () => undefined);
  after(async () => {
    await deleteKeys(raw, `${config.online.keyPrefix}:*`).catch(() => undefined);
    raw.disconnect();
    await Promise.allSettled([online.close(), registry.close()]);
  });
  const target = (view: FeatureView, generation: number): OnlineTarget => onlineTargetOf(config.project, view, generation);
  return {
    config,
    env,
    registry,
    online,
    counting: new CountingOnlineStore(online),
    target,
    async write(view, rows, generation) {
      const g = generation ?? (await registry.activeGeneration(view.name, view.version)).generation;
      await online.writeRows(target(view, g), rows);
    },
  };
}

/** The real store, counting the read path's calls (each readRows is one pipelined round trip). */
export class CountingOnlineStore implements Pick<OnlineStore, 'readRows' | 'ping'> {
  readRowsCalls = 0;
  readsSeen: OnlineRead[][] = [];

  constructor(private readonly store: OnlineStore) {}

  readRows(reads: readonly OnlineRead[]) {
    this.readRowsCalls++;
    this.readsSeen.push([...reads]);
    return this.store.readRows(reads);
  }

  ping() {
    return this.store.ping();
  }
}

export const HOUR = 3_600_000;
