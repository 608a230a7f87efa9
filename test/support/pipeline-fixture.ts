import { after } from 'node:test';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { driverRepo } from './driver-stats.ts';
import { testConfig } from './test-config.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';

/**
 * One test's own Granary: a project with driver_stats applied, an SDK store, and worker
 * processes it can start and kill; everything is stopped after the test file.
 */
export async function pipelineFixture(name: string, overrides: Record<string, string> = {}) {
  const { config, env } = testConfig(name, overrides);
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  await registry.apply(driverRepo);
  const store = await FeatureStore.open({ config });
  const workers: WorkerProcess[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await Promise.allSettled([store.close(), registry.close()]);
  });
  return {
    config,
    env,
    registry,
    store,
    ref: { project: config.project, view: 'driver_stats', version: 1 },
    async startWorker(extraEnv: Record<string, string> = {}, args: readonly string[] = []) {
      const worker = await startWorkerProcess({ ...env, ...extraEnv }, args);
      workers.push(worker);
      return worker;
    },
  };
}
