import { loadConfig } from '../config/granary-config.ts';
import type { FeatureStore } from '../sdk/feature-store.ts';
import type { GlobalOptions } from './global-options.ts';

/**
 * Runs `fn` with the SDK's FeatureStore for the repo's configuration, its registry migrated,
 * and closes it afterwards so the command exits promptly.
 */
export async function withFeatureStore<T>(options: GlobalOptions, fn: (store: FeatureStore) => Promise<T>): Promise<T> {
  // Loaded on use: the SDK pulls in Temporal, Arrow and the stores, which `granary --help` does not need.
  const { FeatureStore } = await import('../sdk/feature-store.ts');
  const store = await FeatureStore.open({ config: loadConfig({ repoDir: options.repo, env: commandEnv(options) }) });
  try {
    await store.stores.registry().migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The environment, with the settings given as global options (--worker-timeout) on top. */
export function commandEnv(options: Pick<GlobalOptions, 'workerTimeout'>): NodeJS.ProcessEnv {
  return options.workerTimeout === undefined ? process.env : { ...process.env, GRANARY_WORKER_TIMEOUT: String(options.workerTimeout) };
}
