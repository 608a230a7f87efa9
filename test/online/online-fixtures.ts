import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { localStack } from '../../config/local-stack.ts';
import type { OnlineTarget } from '../../stores/online/online-store.ts';
import { RedisOnlineStore, type RedisOnlineStoreOptions } from '../../stores/online/redis-online-store.ts';
import { PackedRowCodec } from '../../stores/online/packed-row-codec.ts';
import type { EntityKey } from '../../definitions/feature-value.ts';

/** The stack's Redis (`npm run stack -- up`), shared: every test uses a key prefix of its own. */
export const STACK_REDIS_URL = localStack().redis.url;

/** A store on its own key prefix; closed and its keys deleted after the test. */
export async function openTestStore(
  t: TestContext,
  options: Partial<RedisOnlineStoreOptions> = {},
): Promise<{ store: RedisOnlineStore; raw: Redis; prefix: string }> {
  const prefix = options.keyPrefix ?? `granary-test-${randomUUID().slice(0, 8)}`;
  const url = options.url ?? STACK_REDIS_URL;
  const store = new RedisOnlineStore({ ...options, url, keyPrefix: prefix });
  const raw = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  raw.on('error', () => undefined);
  try {
    await store.ping();
    await raw.connect();
  } catch (error) {
    await store.close();
    raw.disconnect();
    throw new Error(`${(error as Error).message}; is the stack up? (npm run stack -- up)`);
  }
  t.after(async () => {
    await store.close();
    await deleteKeys(raw, `${prefix}:*`).catch(() => undefined);
    raw.disconnect();
  });
  return { store, raw, prefix };
}

export async function deleteKeys(raw: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await raw.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

export function testTarget(overrides: Partial<OnlineTarget> = {}): OnlineTarget {
  return {
    project: 'shop',
    view: 'user_stats',
    version: 1,
    generation: 1,
    joinKeys: [{ name: 'user_id', type: 'string' }],
    features: [
      { name: 'spend', type: 'float64' },
      { name: 'orders', type: 'int64' },
      { name: 'country', type: 'string' },
    ],
    ttlSeconds: 86_400,
    ...overrides,
  };
}

/** Fisher-Yates with a seeded generator, so a failing order can be replayed. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The examples' seeded PRNG, re-exported for the tests. */
export { seededRandom } from '../../definitions/examples/seeded-random.ts';

/**
 * What Redis holds for an entity's row, whatever the generation's layout, as layout 1 names it:
 * `__ct`, `__et` and the non-null features, sorted ([] when there is no row).
 */
export async function storedFields(store: RedisOnlineStore, raw: Redis, target: OnlineTarget, entityKey: EntityKey): Promise<string[]> {
  const key = await store.rowKey(target, entityKey);
  if ((await store.generationLayout(target)).version === 1) return (await raw.hkeys(key)).sort();
  const bytes = await raw.getBuffer(key);
  if (!bytes) return [];
  const { values } = new PackedRowCodec(target.features).decode(bytes);
  return ['__ct', '__et', ...target.features.filter((_, i) => values[i] !== null).map((f) => f.name)].sort();
}
