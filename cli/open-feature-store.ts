import { loadConfig } from '../config/granary-config.ts';
import { FeatureStore } from '../sdk/feature-store.ts';
import type { GlobalOptions } from './global-options.ts';

/**
 * Runs `fn` with the SDK's FeatureStore for the repo's configuration, its registry migrated,
 * and closes it afterwards so the command exits promptly.
 */
export async function withFeatureStore<T>(options: GlobalOptions, fn: (store: FeatureStore) => Promise<T>): Promise<T> {
  const store = await FeatureStore.open({ config: loadConfig({ repoDir: options.repo }) });
  try {
    await store.stores.registry().migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}
