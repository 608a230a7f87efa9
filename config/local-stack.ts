/**
 * The local stack's addresses: the one place that knows which port each service of
 * `npm run stack -- up` listens on. Ports stay clear of the services' usual defaults so a system
 * Redis or PostgreSQL is never hit by mistake; each can be moved with an environment variable.
 *
 * @example
 *   localStack().redis.url // => 'redis://127.0.0.1:16379'
 *   localStack().minio.offlineUrl // => 's3://granary/offline' (the offline store's default)
 *   localStack().redisCluster.nodes // => '127.0.0.1:17000,127.0.0.1:17001,...,127.0.0.1:17005'
 */
export interface LocalStack {
  readonly host: string;
  readonly redis: { readonly port: number; readonly url: string };
  readonly postgres: { readonly port: number; readonly url: string; readonly database: string };
  readonly minio: {
    readonly port: number;
    readonly consolePort: number;
    readonly endpoint: string;
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly bucket: string;
    /** Where the offline store lives by default: `s3://<bucket>/offline` on this MinIO (`up` creates the bucket). */
    readonly offlineUrl: string;
  };
  readonly temporal: { readonly port: number; readonly address: string; readonly namespace: string };
  /**
   * The optional Redis Cluster (`up --redis-cluster`): 3 masters and 3 replicas on six consecutive
   * ports from its base; each node's cluster bus is its port + 10000 (Redis' default).
   */
  readonly redisCluster: { readonly ports: readonly number[]; readonly nodes: string };
  /**
   * The optional Sentinel setup (`up --redis-sentinel`) from its base port: a master (base), its
   * replica (base + 1) and three sentinels (base + 2 .. base + 4) watching it as `masterName`.
   */
  readonly redisSentinel: {
    readonly masterName: string;
    readonly dataPorts: readonly number[];
    readonly sentinelPorts: readonly number[];
    readonly sentinels: string;
  };
}

export const STACK_PORT_VARIABLES = {
  redis: 'GRANARY_STACK_REDIS_PORT',
  postgres: 'GRANARY_STACK_POSTGRES_PORT',
  minio: 'GRANARY_STACK_MINIO_PORT',
  minioConsole: 'GRANARY_STACK_MINIO_CONSOLE_PORT',
  temporal: 'GRANARY_STACK_TEMPORAL_PORT',
  /** The first of the cluster's six consecutive ports. */
  redisCluster: 'GRANARY_STACK_REDIS_CLUSTER_PORT',
  /** The first of the Sentinel setup's five consecutive ports. */
  redisSentinel: 'GRANARY_STACK_REDIS_SENTINEL_PORT',
} as const;

/**
 * The cluster's 17000-17005 (buses 27000-27005) and Sentinel's 17010-17014 stay clear of the
 * other defaults and of the Temporal dev server's (17233, its UI at +1000 when not headless).
 */
const DEFAULT_PORTS = { redis: 16379, postgres: 15432, minio: 19000, minioConsole: 19001, temporal: 17233, redisCluster: 17000, redisSentinel: 17010 };
/** How many consecutive ports from its base each topology takes, and the highest base it allows. */
const RANGE_PORTS = { redisCluster: { count: 6, maxBase: 65535 - 10000 - 5 }, redisSentinel: { count: 5, maxBase: 65535 - 4 } } as const;
const range = (base: number, count: number): number[] => Array.from({ length: count }, (_, n) => base + n);

export function localStack(env: NodeJS.ProcessEnv = process.env): LocalStack {
  const host = '127.0.0.1';
  const port = (key: keyof typeof DEFAULT_PORTS): number => {
    const name = STACK_PORT_VARIABLES[key];
    const raw = env[name];
    if (raw === undefined || raw === '') return DEFAULT_PORTS[key];
    const value = Number(raw);
    const max = key in RANGE_PORTS ? RANGE_PORTS[key as keyof typeof RANGE_PORTS].maxBase : 65535;
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new Error(`${name} must be a port number (1-${max}), got '${raw}'`);
    }
    return value;
  };
  const redisPort = port('redis');
  const postgresPort = port('postgres');
  const minioPort = port('minio');
  const temporalPort = port('temporal');
  const clusterPorts = range(port('redisCluster'), RANGE_PORTS.redisCluster.count);
  const [masterPort, replicaPort, ...sentinelPorts] = range(port('redisSentinel'), RANGE_PORTS.redisSentinel.count) as [number, number, ...number[]];
  const addresses = (ports: readonly number[]): string => ports.map((p) => `${host}:${p}`).join(',');
  const bucket = 'granary';
  return Object.freeze({
    host,
    redis: { port: redisPort, url: `redis://${host}:${redisPort}` },
    postgres: { port: postgresPort, database: 'granary', url: `postgres://postgres@${host}:${postgresPort}/granary` },
    minio: {
      port: minioPort,
      consolePort: port('minioConsole'),
      endpoint: `http://${host}:${minioPort}`,
      accessKeyId: 'granary',
      secretAccessKey: 'granary-secret',
      bucket,
      offlineUrl: `s3://${bucket}/offline`,
    },
    temporal: { port: temporalPort, address: `${host}:${temporalPort}`, namespace: 'default' },
    redisCluster: { ports: clusterPorts, nodes: addresses(clusterPorts) },
    redisSentinel: { masterName: 'granary', dataPorts: [masterPort, replicaPort], sentinelPorts, sentinels: addresses(sentinelPorts) },
  });
}
