import type { GranaryConfig } from '../config/granary-config.ts';
import { createOfflineStore } from './offline/create-offline-store.ts';
import type { OfflineStore } from './offline/offline-store.ts';
import type { OnlineStore } from './online/online-store.ts';
import { RedisOnlineStore } from './online/redis-online-store.ts';
import { PostgresRegistry } from './registry/postgres-registry.ts';
import type { Registry } from './registry/registry.ts';

/**
 * The three stores of a configuration, opened lazily: a command that only needs the registry
 * never connects to Redis. Registries are per project and cached.
 */
export interface Stores {
  registry(project?: string): Registry;
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  close(): Promise<void>;
}

export function openStores(config: GranaryConfig): Stores {
  const registries = new Map<string, Registry>();
  let offline: OfflineStore | undefined;
  let online: OnlineStore | undefined;
  return {
    registry(project = config.project) {
      let registry = registries.get(project);
      if (!registry) {
        registry = new PostgresRegistry({ url: config.registry.url, project });
        registries.set(project, registry);
      }
      return registry;
    },
    get offline() {
      offline ??= createOfflineStore(config.offline);
      return offline;
    },
    get online() {
      online ??= new RedisOnlineStore({ url: config.online.url, keyPrefix: config.online.keyPrefix });
      return online;
    },
    async close() {
      await Promise.allSettled([...[...registries.values()].map((r) => r.close()), offline?.close(), online?.close()]);
    },
  };
}
