import { loadConfig, type GranaryConfig } from '../../config/granary-config.ts';

/**
 * The settings of one benchmark run's project: the run's own task queue, Redis key prefix and
 * offline root (all named after the run id), so two runs never meet.
 *
 * @example
 *   benchConfig('bench_materialize_1a2b3c4d', 'bench_materialize_1a2b3c4d_data').online.keyPrefix
 *   // => 'granary-bench-bench_materialize_1a2b3c4d'
 */
export function benchConfig(id: string, project: string, offline?: string): GranaryConfig {
  return loadConfig({ repoDir: process.cwd(), env: { ...process.env, ...benchEnv(id, project, offline) } });
}

/** The environment variables behind benchConfig: what a worker process of the run is started with. */
export function benchEnv(id: string, project: string, offline?: string): Record<string, string> {
  return {
    GRANARY_PROJECT: project,
    GRANARY_TASK_QUEUE: `granary-bench-${id}`,
    GRANARY_REDIS_KEY_PREFIX: `granary-bench-${id}`,
    GRANARY_OFFLINE_URL: offline ?? `s3://granary/bench/${id}`,
  };
}
