import { createRequire } from 'node:module';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { SdkComponent, type LogMetadata, type Logger } from '@temporalio/common';
import { createActivities } from '../activities/index.ts';
import { maskSecrets } from '../config/mask-secrets.ts';
import { loadFeatureRepo, type FeatureRepo } from '../definitions/feature-repo.ts';
import type { GranaryConfig } from '../config/granary-config.ts';
import { openCheckedStores } from '../stores/open-stores.ts';
import { workerMonitoring } from '../monitoring/worker-monitoring.ts';
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
 * Installs the worker runtime's logger, on stderr, credentials masked (config/mask-secrets.ts).
 * By default it shows warnings and errors, plus the INFO lines of Granary's activities (a
 * rebuild partition starting, resuming at entity n of m, done; a backfill's commits): what an
 * operator watches; Temporal's own INFO lines (bundling, state changes) stay hidden.
 * GRANARY_LOG_LEVEL (TRACE, DEBUG, INFO, WARN, ERROR) sets one level for everything. Call once,
 * before the first worker.
 */
export function installWorkerLogging(level: string | undefined = process.env.GRANARY_LOG_LEVEL): void {
  const chosen = level === undefined || level === '' ? undefined : level.toUpperCase();
  if (chosen !== undefined && !(chosen in SEVERITY)) {
    throw new Error(`GRANARY_LOG_LEVEL must be one of ${Object.keys(SEVERITY).join(', ')}, got '${level}'`);
  }
  const core = (chosen ?? 'WARN') as LogLevel;
  // Native (core) logs are forwarded to the same logger, which writes to stderr: stdout stays the
  // command's own output (a benchmark's JSON, a CLI table).
  Runtime.install({
    logger: new WorkerLogger((chosen ?? 'WARN') as LogLevel, (chosen ?? 'INFO') as LogLevel),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core, other: 'ERROR' }), forward: {} } },
  });
}

const SEVERITY: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/** Temporal's DefaultLogger behind a level per component: activities may say more than the rest. */
class WorkerLogger implements Logger {
  private readonly out = new DefaultLogger('TRACE');

  constructor(
    private readonly level: LogLevel,
    private readonly activityLevel: LogLevel,
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const min = meta?.sdkComponent === SdkComponent.activity ? this.activityLevel : this.level;
    if (SEVERITY[level] < SEVERITY[min]) return;
    this.out.log(level, maskSecrets(message), meta);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * A worker for Granary's task queue: every workflow, and activities bound to the configured
 * stores. Tests pass a pre-built `workflowBundle` to skip bundling.
 *
 * @example
 *   const { run } = await createGranaryWorker(loadConfig());
 *   await run();
 */
export async function createGranaryWorker(
  config: GranaryConfig,
  options: Partial<Pick<WorkerOptions, 'workflowBundle' | 'taskQueue' | 'maxConcurrentActivityTaskExecutions'>> & {
    /** The feature repo, for migrations whose transform is TypeScript (`granary worker --repo DIR`); loaded on first use. */
    readonly featureRepoDir?: string;
  } = {},
): Promise<GranaryWorker> {
  // The configured project is checked now; every other project when the worker first touches its
  // offline data (stores/open-stores.ts): a mismatch fails that activity, retryably, so a worker
  // configured for the project's home can take it, and says both locations in the worker's log.
  const stores = await openCheckedStores(config);
  const client = await connectClient(config.temporal);
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.temporal.address });
  } catch (error) {
    await stores.close();
    throw new Error(`cannot reach the Temporal server at ${config.temporal.address}: ${(error as Error).message}`);
  }
  const monitoring = workerMonitoring(config, stores);
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
    maxFutureSkewMs: config.ingest.maxFutureSkewMs,
    ...(options.featureRepoDir ? { featureRepo: lazyFeatureRepo(options.featureRepoDir) } : {}),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    activities: { ...activities, ...monitoring.activities },
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 8,
  });
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await Promise.allSettled([stores.close(), monitoring.close(), client.connection.close(), connection.close()]);
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
