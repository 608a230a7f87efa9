import type { CONFIG_VARIABLES } from '../../config/granary-config.ts';
import { localStack } from '../../config/local-stack.ts';

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

/** `export NAME=value` lines for a shell (`eval "$(npm run -s stack -- env)"`). */
export function stackEnvLines(env: NodeJS.ProcessEnv = process.env): string[] {
  const quote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  return Object.entries(stackEnv(env)).map(([name, value]) => `export ${name}=${quote(value)}`);
}
