import { randomBytes } from 'node:crypto';
import { loadConfig, type GranaryConfig } from '../../config/granary-config.ts';

/**
 * A configuration of the shared local stack for one test: its own project, task queue and
 * Redis key prefix, so tests never see each other's data or workers. The offline store is the
 * stack's MinIO (a prefix per test) unless `offline` says otherwise. Reads are open
 * (`serving.auth: none`) unless the overrides say `GRANARY_SERVING_AUTH: 'token'`.
 */
export function testConfig(name: string, overrides: Record<string, string> = {}): { config: GranaryConfig; env: Record<string, string> } {
  const id = `${name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = {
    GRANARY_PROJECT: id,
    GRANARY_TASK_QUEUE: `granary-test-${id}`,
    GRANARY_REDIS_KEY_PREFIX: `t-${id}`,
    GRANARY_OFFLINE_URL: `s3://granary/tests/${id}`,
    // Tests of pipelines read as no consumer; access-control tests pass GRANARY_SERVING_AUTH: 'token'.
    GRANARY_SERVING_AUTH: 'none',
    ...overrides,
  };
  const config = loadConfig({ repoDir: process.cwd(), env: { ...process.env, ...env } });
  return { config, env };
}
