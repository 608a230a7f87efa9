import { Cluster, Redis } from 'ioredis';
import { parseClusterUrl } from './redis-cluster-url.ts';

/** How to reach the online store's Redis: a URL (redis://, rediss://, redis+cluster://seeds), or sentinels naming the master. */
export interface RedisConnectionOptions {
  readonly url: string;
  /** Redis Sentinel (host:port each): the master is found through them; `url` then gives password, database and TLS only. */
  readonly sentinels?: readonly string[];
  /** The master's name the sentinels monitor (default 'granary'). */
  readonly sentinelMaster?: string;
  /** A private CA (PEM text) trusted for rediss:// and rediss+cluster:// in place of Node's CAs. */
  readonly tlsCa?: string;
  /** Connect timeout, ms (default 2000). */
  readonly connectTimeoutMs?: number;
  /** ioredis retries of one command across reconnects (default 1). */
  readonly maxRetriesPerRequest?: number;
  /** No offline queue and no retry after a failover: a call fails at once while Redis is unreachable (serving's fast 503s). */
  readonly failFast?: boolean;
}

/**
 * The ioredis client for a connection's options: a `Cluster` for a `redis+cluster://` URL
 * (reads from masters, a replica may lag; bounded retries), a `Redis` through sentinels when
 * they are given, else a plain `Redis`. Lazily connected; the caller listens for 'error'.
 * The one place that builds the online store's clients (the store and the serving counters).
 *
 * @example
 *   createRedisClient({ url: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001' }) // => Cluster (seed nodes)
 *   createRedisClient({ url: 'redis://127.0.0.1:16379', failFast: true })      // => Redis, no offline queue
 */
export function createRedisClient(options: RedisConnectionOptions): Redis | Cluster {
  const sentinels = options.sentinels ?? [];
  const cluster = parseClusterUrl(options.url);
  if (cluster) {
    if (sentinels.length) throw new Error('a Redis Cluster has no sentinels; give one or the other');
    return new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        lazyConnect: true,
        // A replica may lag its master: reads go to masters, like writes.
        scaleReads: 'master',
        enableOfflineQueue: !options.failFast,
        // Bounded: a cluster no seed node answers is retried at most every second, for ever
        // (serving recovers on its own), while each call fails within its own deadline.
        clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
        // A command to a master that went away (or while the cluster is down) is retried after a
        // slot refresh, every 200 ms, within the call's deadline; serving (failFast) answers a
        // 503 at once instead and refreshes the slots behind it (the store's failure()).
        retryDelayOnFailover: options.failFast ? 0 : 200,
        retryDelayOnClusterDown: options.failFast ? 0 : 200,
        retryDelayOnTryAgain: options.failFast ? 0 : 200,
        slotsRefreshInterval: 2000,
        maxRedirections: 16,
        slotsRefreshTimeout: options.connectTimeoutMs ?? 2000,
        redisOptions: {
          connectTimeout: options.connectTimeoutMs ?? 2000,
          maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
          ...(cluster.username ? { username: cluster.username } : {}),
          ...(cluster.password !== undefined ? { password: cluster.password } : {}),
          ...(cluster.tls ? { tls: options.tlsCa ? { ca: options.tlsCa } : {} } : {}),
        },
      },
    );
  }
  return new Redis(options.url, {
    ...(sentinels.length
      ? { sentinels: sentinels.map(hostAndPort), name: options.sentinelMaster ?? 'granary', sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1000) }
      : {}),
    ...(options.tlsCa ? { tls: { ca: options.tlsCa } } : {}),
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    enableOfflineQueue: !options.failFast,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
}

/** 'host:port' (config-checked) as ioredis wants a sentinel. */
function hostAndPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}
