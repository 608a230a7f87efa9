import type { Cluster, Redis } from 'ioredis';
import { createRedisClient, type RedisConnectionOptions } from './redis-client.ts';
import { OnlineStoreError, redactUrl } from './online-store-error.ts';

/** Served values of one (view, feature, status), summed over every server replica. */
export interface StatusCount {
  /** The view as served: `view` or `view@2`. */
  readonly view: string;
  readonly feature: string;
  readonly status: string;
  readonly count: number;
}

/** Responses of one feature service in one latency bucket (upper bound in seconds; Infinity for the last). */
export interface LatencyCount {
  readonly featureService: string;
  readonly le: number;
  readonly count: number;
}

/** What the feature servers add in one flush: counts by field (statusField / latencyField). */
export interface ServingCountsDelta {
  readonly minute: number;
  readonly counts: ReadonlyMap<string, number>;
}

export interface ServingCounters {
  /** Adds each count to the project's numbers of that minute (every replica adds to the same ones). */
  add(project: string, deltas: readonly ServingCountsDelta[]): Promise<void>;
  /** The sums over the minutes [fromMinute, toMinute]. */
  read(project: string, fromMinute: number, toMinute: number): Promise<{ statuses: StatusCount[]; latency: LatencyCount[] }>;
  close(): Promise<void>;
}

/** Minutes a minute's counts are kept. */
export const SERVING_COUNTS_TTL_SECONDS = 8 * 86_400;

/** The hash field of a status count. */
export function statusField(view: string, feature: string, status: string): string {
  return `s|${view}|${feature}|${status}`;
}

/** The hash field of a latency bucket count (`le` in seconds, 'inf' for the last). */
export function latencyField(featureService: string, le: number): string {
  return `l|${featureService}|${Number.isFinite(le) ? le : 'inf'}`;
}

/**
 * The feature servers' shared serving counters in Redis: per project and minute one hash,
 * `<prefix>:{<project>:-serving}:<minute>` ('-' cannot start a view name, so no generation's key
 * looks like it; the braces are a hash tag: every minute of a project in one slot, so a flush's
 * and a read's pipeline stay on one node of a Redis Cluster), whose fields are `s|<view>|<feature>|<status>` (served values by status) and
 * `l|<feature service>|<le>` (responses by latency bucket). Every replica HINCRBYs the same
 * fields, in one pipeline per flush, so the numbers are the sums over all replicas. Minutes expire after eight days.
 *
 * @example
 *   const counters = new RedisServingCounters({ url: 'redis://127.0.0.1:16379', keyPrefix: 'granary' });
 *   await counters.add('fraud', [{ minute: 29_000_000, counts: new Map([[statusField('user_spend', 'spend', 'PRESENT'), 12]]) }]);
 *   await counters.read('fraud', 29_000_000, 29_000_000) // => { statuses: [{ view: 'user_spend', feature: 'spend', status: 'PRESENT', count: 12 }], latency: [] }
 */
export class RedisServingCounters implements ServingCounters {
  readonly url: string;
  private readonly redis: Redis | Cluster;
  private readonly keyPrefix: string;

  constructor(options: RedisConnectionOptions & { readonly keyPrefix: string }) {
    this.url = redactUrl(options.url);
    this.keyPrefix = options.keyPrefix;
    this.redis = createRedisClient(options);
    this.redis.on('error', () => undefined);
  }

  key(project: string, minute: number): string {
    return `${this.keyPrefix}:{${project}:-serving}:${minute}`;
  }

  async add(project: string, deltas: readonly ServingCountsDelta[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const { minute, counts } of deltas) {
      const key = this.key(project, minute);
      for (const [field, n] of counts) if (n > 0) pipeline.hincrby(key, field, n);
      pipeline.expire(key, SERVING_COUNTS_TTL_SECONDS);
    }
    await this.exec(pipeline, 'add serving counts');
  }

  async read(project: string, fromMinute: number, toMinute: number): Promise<{ statuses: StatusCount[]; latency: LatencyCount[] }> {
    const pipeline = this.redis.pipeline();
    for (let m = fromMinute; m <= toMinute; m++) pipeline.hgetall(this.key(project, m));
    const sums = new Map<string, number>();
    for (const hash of (await this.exec(pipeline, 'read serving counts')) as Record<string, string>[]) {
      for (const [field, n] of Object.entries(hash)) sums.set(field, (sums.get(field) ?? 0) + Number(n));
    }
    const statuses: StatusCount[] = [];
    const latency: LatencyCount[] = [];
    for (const [field, count] of sums) {
      const parts = field.split('|');
      if (parts[0] === 's' && parts.length === 4) statuses.push({ view: parts[1]!, feature: parts[2]!, status: parts[3]!, count });
      else if (parts[0] === 'l' && parts.length === 3) latency.push({ featureService: parts[1]!, le: parts[2] === 'inf' ? Number.POSITIVE_INFINITY : Number(parts[2]), count });
    }
    return { statuses, latency };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private async exec(pipeline: ReturnType<Redis['pipeline']>, what: string): Promise<unknown[]> {
    try {
      if (this.redis.status === 'wait') await this.redis.connect();
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0]!;
      return replies.map(([, value]) => value);
    } catch (error) {
      throw new OnlineStoreError(this.url, what, error);
    }
  }
}
