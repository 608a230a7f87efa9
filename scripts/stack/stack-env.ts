import type { CONFIG_VARIABLES } from '../../config/granary-config.ts';
import { localStack } from '../../config/local-stack.ts';
import type { TopologyName } from './redis-topology.ts';

/** The variables of CONFIG_VARIABLES that `env` sets. */
export const STACK_ENV_VARIABLES = [
  'GRANARY_REDIS_URL',
  'GRANARY_POSTGRES_URL',
  'GRANARY_OFFLINE_URL',
  'GRANARY_S3_ENDPOINT',
  'GRANARY_S3_ACCESS_KEY_ID',
  'GRANARY_S3_SECRET_ACCESS_KEY',
  'GRANARY_TEMPORAL_ADDRESS',
  'GRANARY_TEMPORAL_NAMESPACE',
] as const satisfies ReadonlyArray<keyof typeof CONFIG_VARIABLES>;
export type StackEnv = Readonly<Record<(typeof STACK_ENV_VARIABLES)[number], string>>;

/**
 * What a client needs for the optional Redis topologies (`up --redis-cluster`, `--redis-sentinel`):
 * the cluster's nodes (`host:port,...`) and the same as an `online.url`
 * (`redis+cluster://host:port,...`: `export GRANARY_REDIS_URL=$GRANARY_REDIS_CLUSTER_URL` points
 * Granary at the cluster), the sentinels and the master's name (GRANARY_REDIS_SENTINELS and
 * GRANARY_REDIS_SENTINEL_MASTER are Granary's own settings: printed, they point Granary at
 * Sentinel). `env` prints them when the topology is up or switched on.
 */
export const STACK_TOPOLOGY_ENV_VARIABLES = ['GRANARY_REDIS_CLUSTER_NODES', 'GRANARY_REDIS_CLUSTER_URL', 'GRANARY_REDIS_SENTINELS', 'GRANARY_REDIS_SENTINEL_MASTER'] as const;
export type StackTopologyEnv = Readonly<Partial<Record<(typeof STACK_TOPOLOGY_ENV_VARIABLES)[number], string>>>;

/**
 * The GRANARY_* variables that point Granary at the local stack (at the ports of `localStack()`,
 * which GRANARY_STACK_*_PORT move). Computed, not probed: it says where the stack is, not that it
 * is up.
 *
 * @example
 *   stackEnv().GRANARY_REDIS_URL // => 'redis://127.0.0.1:16379'
 *   stackEnvLines()[0]           // => 'export GRANARY_REDIS_URL=redis://127.0.0.1:16379'
 */
export function stackEnv(env: NodeJS.ProcessEnv = process.env): StackEnv {
  const stack = localStack(env);
  return {
    GRANARY_REDIS_URL: stack.redis.url,
    GRANARY_POSTGRES_URL: stack.postgres.url,
    GRANARY_OFFLINE_URL: stack.minio.offlineUrl,
    GRANARY_S3_ENDPOINT: stack.minio.endpoint,
    GRANARY_S3_ACCESS_KEY_ID: stack.minio.accessKeyId,
    GRANARY_S3_SECRET_ACCESS_KEY: stack.minio.secretAccessKey,
    GRANARY_TEMPORAL_ADDRESS: stack.temporal.address,
    GRANARY_TEMPORAL_NAMESPACE: stack.temporal.namespace,
  };
}

/**
 * The variables of the given topologies, at the ports of `localStack()`.
 *
 * @example
 *   stackTopologyEnv(['redis-sentinel']) // => { GRANARY_REDIS_SENTINELS: '127.0.0.1:17012,127.0.0.1:17013,127.0.0.1:17014', GRANARY_REDIS_SENTINEL_MASTER: 'granary' }
 */
export function stackTopologyEnv(topologies: readonly TopologyName[], env: NodeJS.ProcessEnv = process.env): StackTopologyEnv {
  const stack = localStack(env);
  return {
    ...(topologies.includes('redis-cluster')
      ? { GRANARY_REDIS_CLUSTER_NODES: stack.redisCluster.nodes, GRANARY_REDIS_CLUSTER_URL: `redis+cluster://${stack.redisCluster.nodes}` }
      : {}),
    ...(topologies.includes('redis-sentinel')
      ? { GRANARY_REDIS_SENTINELS: stack.redisSentinel.sentinels, GRANARY_REDIS_SENTINEL_MASTER: stack.redisSentinel.masterName }
      : {}),
  };
}

/** `export NAME=value` lines for a shell (`eval "$(npm run -s stack -- env)"`), with those of the topologies given. */
export function stackEnvLines(env: NodeJS.ProcessEnv = process.env, topologies: readonly TopologyName[] = []): string[] {
  const quote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  return Object.entries({ ...stackEnv(env), ...stackTopologyEnv(topologies, env) }).map(([name, value]) => `export ${name}=${quote(value)}`);
}
