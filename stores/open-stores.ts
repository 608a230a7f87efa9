import { readFileSync } from 'node:fs';
import type { GranaryConfig } from '../config/granary-config.ts';
import { checkOfflineHome } from './offline-home.ts';
import { createOfflineStore } from './offline/create-offline-store.ts';
import { HomeCheckedOfflineStore } from './offline/home-checked-offline-store.ts';
import type { OfflineStore } from './offline/offline-store.ts';
import type { OnlineStore } from './online/online-store.ts';
import { RedisOnlineStore, type RedisOnlineStoreOptions } from './online/redis-online-store.ts';
import { PostgresRegistry } from './registry/postgres-registry.ts';
import type { Registry } from './registry/registry.ts';
import type { OfflineHome } from './registry/project-home.ts';

/**
 * The three stores of a configuration, opened lazily: a command that only needs the registry
 * never connects to Redis. Registries are per project and cached. The offline store checks each
 * project's recorded home before it first touches that project's objects, and records it when
 * none is (stores/offline-home.ts).
 */
export interface Stores {
  registry(project?: string): Registry;
  /** The offline store, checked per project against its recorded home. */
  readonly offline: OfflineStore;
  /**
   * Checks the configuration against the project's recorded offline home now (a process at
   * start); `record` records it when none is. Throws OfflineHomeMismatchError on a mismatch.
   */
  checkOfflineHome(options?: { readonly project?: string; readonly record?: boolean }): Promise<OfflineHome | undefined>;
  readonly online: OnlineStore;
  close(): Promise<void>;
}

export function openStores(config: GranaryConfig): Stores {
  const registries = new Map<string, Registry>();
  let unchecked: OfflineStore | undefined;
  let offline: OfflineStore | undefined;
  let online: OnlineStore | undefined;
  const registry = (project = config.project): Registry => {
    let found = registries.get(project);
    if (!found) {
      found = new PostgresRegistry({ url: config.registry.url, project });
      registries.set(project, found);
    }
    return found;
  };
  const uncheckedOffline = (): OfflineStore => (unchecked ??= createOfflineStore(config.offline));
  const check = (project: string, record: boolean) =>
    checkOfflineHome(registry(project), config.offline, { record, offline: uncheckedOffline() });
  return {
    registry,
    get offline() {
      offline ??= new HomeCheckedOfflineStore(uncheckedOffline(), (project) => check(project, true).then(() => undefined), config.project);
      return offline;
    },
    checkOfflineHome(options = {}) {
      return check(options.project ?? config.project, options.record ?? false);
    },
    get online() {
      online ??= new RedisOnlineStore(onlineConnection(config));
      return online;
    },
    async close() {
      await Promise.allSettled([...[...registries.values()].map((r) => r.close()), unchecked?.close(), online?.close()]);
    },
  };
}

/**
 * The stores of a process that starts work for the configured project: opened, then checked
 * against the project's recorded offline home (closed again and the error thrown on a mismatch).
 */
export async function openCheckedStores(config: GranaryConfig): Promise<Stores> {
  const stores = openStores(config);
  try {
    await stores.checkOfflineHome();
  } catch (error) {
    await stores.close();
    throw error;
  }
  return stores;
}

/** Where the online store's Redis is (config `online`): a URL, or sentinels naming the master; and the CA its TLS certificate is checked against. */
export function onlineConnection(
  config: Pick<GranaryConfig, 'online'>,
): Pick<RedisOnlineStoreOptions, 'url' | 'keyPrefix' | 'sentinels' | 'sentinelMaster' | 'tlsCa'> {
  const { url, keyPrefix, sentinels, sentinelMaster, tlsCa } = config.online;
  return { url, keyPrefix, ...(sentinels.length ? { sentinels, sentinelMaster } : {}), ...(tlsCa ? { tlsCa: readFileSync(tlsCa, 'utf8') } : {}) };
}
