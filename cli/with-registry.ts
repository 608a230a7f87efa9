import { loadConfig, type GranaryConfig } from '../config/granary-config.ts';
import { PostgresRegistry } from '../stores/registry/postgres-registry.ts';
import type { GlobalOptions } from './global-options.ts';

/**
 * Runs `fn` with the project's registry (config from the repo's granary.yaml and GRANARY_*
 * variables), migrated, and closes it afterwards so the command exits promptly.
 *
 * @example
 *   const objects = await withRegistry(options, (registry) => registry.listObjects());
 */
export async function withRegistry<T>(
  options: GlobalOptions,
  fn: (registry: PostgresRegistry, config: GranaryConfig) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ repoDir: options.repo });
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  try {
    await registry.migrate();
    return await fn(registry, config);
  } finally {
    await registry.close();
  }
}
