import type { GranaryConfig } from '../config/granary-config.ts';
import { createOfflineStore } from '../stores/offline/create-offline-store.ts';
import { RedisServingCounters } from '../stores/online/redis-serving-counters.ts';
import { onlineConnection } from '../stores/open-stores.ts';
import { ServingCounts } from './serving-counts.ts';
import type { ServingObserver } from './serving-observer.ts';
import { ServingSampleLog } from './serving-sample-log.ts';

/**
 * What `granary serve` gives its feature server for monitoring: the shared serving counters
 * (served statuses per view and feature, latency buckets per feature service, added to Redis
 * every 2 s) and, unless `monitoring.skewSampleRate` is 0, the skew sample log (written to the
 * offline store every 10 s). `close()` after the server's: the stores they opened.
 *
 * @example
 *   const monitoring = monitoringObservers(config);
 *   const server = new FeatureServer({ ..., observers: monitoring.observers });
 *   // at shutdown: await server.close(); await monitoring.close();
 */
export function monitoringObservers(config: GranaryConfig, log?: (line: string) => void): { observers: ServingObserver[]; close(): Promise<void> } {
  const counters = new RedisServingCounters(onlineConnection(config));
  const observers: ServingObserver[] = [new ServingCounts({ counters, project: config.project })];
  const offline = config.monitoring.skewSampleRate > 0 ? createOfflineStore(config.offline) : undefined;
  if (offline) {
    observers.push(
      new ServingSampleLog({
        offline,
        project: config.project,
        rate: config.monitoring.skewSampleRate,
        onError: (error) => log?.(`skew sample log: a write failed, its samples are dropped: ${error.message}`),
      }),
    );
  }
  return {
    observers,
    async close() {
      await Promise.allSettled([counters.close(), offline?.close()]);
    },
  };
}
