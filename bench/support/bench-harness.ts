import type { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { GranaryConfig } from '../../config/granary-config.ts';
import { openStores, type Stores } from '../../stores/open-stores.ts';
import { createGranaryWorker, installWorkerLogging } from '../../workers/granary-worker.ts';
import { connectClient } from '../../workers/temporal-connection.ts';
import { deleteByPattern } from './redis-ceiling.ts';

/** What a pipeline benchmark runs on: the stores, a raw Redis connection, a Temporal client, and (unless asked not to) a worker in this process. */
export interface BenchHarness {
  readonly stores: Stores;
  readonly raw: Redis;
  readonly client: Client;
  /** Stops the worker, deletes the run's Redis keys and its data project's offline objects, closes every connection. */
  close(): Promise<void>;
}

export interface BenchHarnessOptions {
  /** Run a Granary worker in this process (default true); false when the benchmark starts its own worker process. */
  readonly inProcessWorker?: boolean;
}

/**
 * Opens the stores of `config` (the run's data project) and runs a Granary worker on its task
 * queue in this process, so the workflows a benchmark starts run here.
 *
 * @example
 *   const harness = await startBenchHarness(benchConfig(id, `${id}_data`));
 *   try { ... } finally { await harness.close(); }
 */
export async function startBenchHarness(config: GranaryConfig, options: BenchHarnessOptions = {}): Promise<BenchHarness> {
  const stores = openStores(config);
  const raw = new Redis(config.online.url);
  let worker: { shutdown(): void; running: Promise<void> } | undefined;
  if (options.inProcessWorker !== false) {
    installWorkerLogging();
    const created = await createGranaryWorker(config);
    worker = { shutdown: () => created.shutdown(), running: created.run() };
  }
  const client = await connectClient(config.temporal);
  return {
    stores,
    raw,
    client,
    async close() {
      worker?.shutdown();
      await worker?.running.catch(() => undefined);
      await deleteByPattern(raw, `${config.online.keyPrefix}:*`).catch(() => undefined);
      for await (const object of stores.offline.list(`${config.project}/`)) await stores.offline.delete(object.key).catch(() => undefined);
      raw.disconnect();
      await Promise.allSettled([stores.close(), client.connection.close()]);
    },
  };
}
