import type { GranaryConfig } from '../config/granary-config.ts';
import type { Stores } from '../stores/open-stores.ts';
import type { MonitorResults } from '../stores/registry/monitor-results.ts';
import { PostgresMonitorResults } from '../stores/registry/postgres-monitor-results.ts';
import { createMonitorActivities, type MonitorActivities } from './monitor-activities.ts';
import { RedisServingCounters } from '../stores/online/redis-serving-counters.ts';
import { onlineConnection } from '../stores/open-stores.ts';

/**
 * The monitoring activities of a worker, bound to its stores: results tables per project (one
 * small pool each, closed with `close()`), webhook URLs from `monitoring.webhooks` (or
 * GRANARY_MONITOR_WEBHOOKS), the feature servers' shared counters in the online store's Redis.
 *
 * @example
 *   const monitoring = workerMonitoring(config, stores);
 *   const activities = { ...createActivities(deps), ...monitoring.activities };
 *   // at shutdown: await monitoring.close();
 */
export function workerMonitoring(config: GranaryConfig, stores: Pick<Stores, 'registry' | 'offline' | 'online'>): { activities: MonitorActivities; close(): Promise<void> } {
  const results = new Map<string, PostgresMonitorResults>();
  const monitorResults = (project: string): MonitorResults => {
    let found = results.get(project);
    if (!found) {
      found = new PostgresMonitorResults({ url: config.registry.url, project });
      results.set(project, found);
    }
    return found;
  };
  // Connects on first use (a worker that never monitors never connects).
  const servingCounters = new RedisServingCounters(onlineConnection(config));
  const activities = createMonitorActivities({
    registry: (project) => stores.registry(project),
    get offline() {
      return stores.offline;
    },
    get online() {
      return stores.online;
    },
    monitorResults,
    webhooks: config.monitoring.webhooks,
    servingCounters,
  });
  return {
    activities,
    async close() {
      await Promise.allSettled([...[...results.values()].map((r) => r.close()), servingCounters.close()]);
    },
  };
}
