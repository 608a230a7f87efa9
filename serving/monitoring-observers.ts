import type { GranaryConfig } from '../config/granary-config.ts';
import { RedisServingCounters } from '../stores/online/redis-serving-counters.ts';
import { onlineConnection } from '../stores/open-stores.ts';
import { ServingCounts } from './serving-counts.ts';
import type { ServingObserver } from './serving-observer.ts';
import { ThreadedSampleLog } from './threaded-sample-log.ts';

/**
 * What `granary serve` gives its feature server for monitoring: the shared serving counters
 * (served statuses per view and feature, latency buckets per feature service, added to Redis
 * every 2 s) and, unless `monitoring.skewSampleRate` is 0, the skew sample log (encoded and
 * written to the offline store every 10 s by a thread of its own, threaded-sample-log.ts).
 * `close()` after the server's: the counters' connection.
 *
 * @example
 *   const monitoring = monitoringObservers(config);
 *   const server = new FeatureServer({ ..., observers: monitoring.observers });
 *   // at shutdown: await server.close(); await monitoring.close();
 */
export function monitoringObservers(config: GranaryConfig, log?: (line: string) => void): { observers: ServingObserver[]; close(): Promise<void> } {
  const counters = new RedisServingCounters(onlineConnection(config));
  const observers: ServingObserver[] = [new ServingCounts({ counters, project: config.project })];
  if (config.monitoring.skewSampleRate > 0) {
    observers.push(
      new ThreadedSampleLog({
        offline: config.offline,
        project: config.project,
        rate: config.monitoring.skewSampleRate,
        onError: (error) => log?.(`skew sample log: ${error.message}`),
      }),
    );
  }
  return {
    observers,
    async close() {
      await counters.close();
    },
  };
}
