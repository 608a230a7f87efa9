import { createRequire } from 'node:module';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.ts';
import { loadFeatureRepo, type FeatureRepo } from '../definitions/feature-repo.ts';
import type { GranaryConfig } from '../config/granary-config.ts';
import { openStores } from '../stores/open-stores.ts';
import { connectClient } from './temporal-connection.ts';

const require = createRequire(import.meta.url);

/** The workflow code the worker runs: the workflows/ folder, bundled by the worker. */
export const WORKFLOWS_PATH = require.resolve('../workflows/index.ts');

export interface GranaryWorker {
  readonly worker: Worker;
  /** Runs until shutdown() (or a SIGINT/SIGTERM), then closes the stores. */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * A worker for Granary's task queue: every workflow, and activities bound to the configured
 * stores. Tests pass a pre-built `workflowBundle` to skip bundling.
 *
 * @example
 *   const { run } = await createGranaryWorker(loadConfig());
 *   await run();
 */
/**
 * Installs the worker runtime's logger at GRANARY_LOG_LEVEL (default WARN: bundling and state
 * changes are not worth a line each). Call once, before the first worker.
 */
export function installWorkerLogging(level = (process.env.GRANARY_LOG_LEVEL ?? 'WARN').toUpperCase()): void {
  const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  if (!levels.includes(level)) throw new Error(`GRANARY_LOG_LEVEL must be one of ${levels.join(', ')}, got '${level}'`);
  // Native (core) logs are forwarded to the same logger, which writes to stderr: stdout stays the
  // command's own output (a benchmark's JSON, a CLI table).
  Runtime.install({
    logger: new DefaultLogger(level as LogLevel),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level as LogLevel, other: 'ERROR' }), forward: {} } },
  });
}

export async function createGranaryWorker(
  config: GranaryConfig,
  options: Partial<Pick<WorkerOptions, 'workflowBundle' | 'taskQueue' | 'maxConcurrentActivityTaskExecutions'>> & {
    /** The feature repo, for migrations whose transform is TypeScript (`granary worker --repo DIR`); loaded on first use. */
    readonly featureRepoDir?: string;
  } = {},
): Promise<GranaryWorker> {
  const stores = openStores(config);
  const client = await connectClient(config.temporal);
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.temporal.address });
  } catch (error) {
    await stores.close();
    throw new Error(`cannot reach the Temporal server at ${config.temporal.address}: ${(error as Error).message}`);
  }
  const activities = createActivities({
    registry: (project) => stores.registry(project),
    get offline() {
      return stores.offline;
    },
    get online() {
      return stores.online;
    },
    temporal: { client, taskQueue },
    onRedisLoss: config.online.onRedisLoss,
    ...(options.featureRepoDir ? { featureRepo: lazyFeatureRepo(options.featureRepoDir) } : {}),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    activities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 8,
  });
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await Promise.allSettled([stores.close(), client.connection.close(), connection.close()]);
      }
    },
    shutdown() {
      worker.shutdown();
    },
  };
}

/** The repo loaded once, on first use; a failed load is tried again next time. */
function lazyFeatureRepo(dir: string): { dir: string; load(): Promise<FeatureRepo> } {
  let loading: Promise<FeatureRepo> | undefined;
  return {
    dir,
    load() {
      loading ??= loadFeatureRepo(dir).catch((error: unknown) => {
        loading = undefined;
        throw error;
      });
      return loading;
    },
  };
}
