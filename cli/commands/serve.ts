import type { Command } from 'commander';
import { loadConfig } from '../../config/granary-config.ts';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { globalOptions } from '../global-options.ts';
import { printLines } from '../output.ts';

interface Options {
  readonly host?: string;
  readonly port?: string;
  readonly maxEntities?: string;
  readonly timeoutMs?: string;
  readonly bodyLimit?: string;
  readonly hotKeyCacheMs?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

/**
 * `granary serve [--port N]`: the HTTP feature server (Feast-compatible POST
 * /get-online-features, GET /health, GET /metrics), reading the registry's definitions (not the
 * repo's files) and the online store. Settings default to the config's `serving` section.
 * SIGTERM or SIGINT shuts it down gracefully: in-flight requests finish.
 *
 * @example
 *   granary serve --port 6566
 *   // serving project 'fraud' on http://127.0.0.1:6566 (POST /get-online-features, GET /health, GET /metrics)
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP feature server (Feast-compatible POST /get-online-features, /health, /metrics)')
    .option('--host <host>', 'address to listen on (default: serving.host, 127.0.0.1)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: serving.port, 6566)')
    .option('--max-entities <n>', 'entity rows per request at most (default: serving.maxEntities, 1000)')
    .option('--timeout-ms <ms>', 'deadline of Redis calls, health checks and registry reads (default: serving.timeoutMs, 1000)')
    .option('--body-limit <bytes>', 'largest request body accepted (default: 1048576)')
    .option('--hot-key-cache-ms <ms>', 'opt-in: reuse rows of hot entities in-process for this long (default: off)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain included); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .action(
      commandAction(async (opts: Options, command: Command) => {
        const options = globalOptions(command);
        const config = loadConfig({ repoDir: options.repo });
        const host = opts.host ?? config.serving.host;
        const port = whole('--port', opts.port, config.serving.port, 0);
        const maxEntities = whole('--max-entities', opts.maxEntities, config.serving.maxEntities, 1);
        const timeoutMs = whole('--timeout-ms', opts.timeoutMs, config.serving.timeoutMs, 1);
        const bodyLimitBytes = whole('--body-limit', opts.bodyLimit, 1 << 20, 1);
        const hotKeyCacheMs = whole('--hot-key-cache-ms', opts.hotKeyCacheMs, 0, 0);
        if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new Error('give both --tls-cert and --tls-key, or neither');
        const { readFileSync } = await import('node:fs');
        const readPem = (flag: string, file: string): Buffer => {
          try {
            return readFileSync(file);
          } catch (error) {
            throw new Error(`${flag} ${file}: ${(error as Error).message}`);
          }
        };
        const tls = opts.tlsCert && opts.tlsKey ? { cert: readPem('--tls-cert', opts.tlsCert), key: readPem('--tls-key', opts.tlsKey) } : undefined;

        const { FeatureServer } = await import('../../serving/feature-server.ts');
        const { RedisOnlineStore } = await import('../../stores/online/redis-online-store.ts');
        const { PostgresRegistry } = await import('../../stores/registry/postgres-registry.ts');
        const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
        const { onlineConnection } = await import('../../stores/open-stores.ts');
        const online = new RedisOnlineStore({
          ...onlineConnection(config),
          failFast: true,
          commandTimeoutMs: timeoutMs,
          connectTimeoutMs: timeoutMs,
        });
        // Redis lost a view's generation: the server may be the first to notice; it starts the
        // rebuild as materialization would (online.onRedisLoss), connecting to Temporal only then.
        const { requestRebuildAfterLoss } = await import('../../sdk/online-loss.ts');
        const { connectClient } = await import('../../workers/temporal-connection.ts');
        let client: ReturnType<typeof connectClient> | undefined;
        // serving.auth: token (the default) reads consumers and grants from the registry; none is open to all.
        const { PostgresAccessRegistry } = await import('../../stores/registry/postgres-access-registry.ts');
        const access = config.serving.auth === 'token' ? new PostgresAccessRegistry({ url: config.registry.url }) : undefined;
        // Monitoring: the shared serving counters and the skew sample log (serving/monitoring-observers.ts).
        const { monitoringObservers } = await import('../../serving/monitoring-observers.ts');
        const monitoring = monitoringObservers(config, (line) => void process.stderr.write(`${line}\n`));
        const server = new FeatureServer({
          observers: monitoring.observers,
          registry,
          online,
          access: access
            ? { auth: 'token', registry: access, timeoutMs, ...(config.serving.authFailuresPerSecond > 0 ? { failedAuthLimit: { perSecond: config.serving.authFailuresPerSecond } } : {}) }
            : { auth: 'none' },
          tls,
          maxEntities,
          timeoutMs,
          bodyLimitBytes,
          hotKeyCache: hotKeyCacheMs > 0 ? { ttlMs: hotKeyCacheMs } : undefined,
          healthOnLoss: config.serving.healthOnLoss,
          rebuildOnLoss: async (ref) => {
            if (config.online.onRedisLoss !== 'rebuild') return 'off';
            client ??= connectClient(config.temporal);
            client.catch(() => (client = undefined));
            return requestRebuildAfterLoss(await client, { taskQueue: config.temporal.taskQueue, onRedisLoss: config.online.onRedisLoss }, ref);
          },
          log: (line) => void process.stderr.write(`${line}\n`),
        });
        // The latest monitoring results, as gauges on /metrics (monitoring/, serving-metrics.ts).
        const { PostgresMonitorResults } = await import('../../stores/registry/postgres-monitor-results.ts');
        const monitorResults = new PostgresMonitorResults({ url: config.registry.url, project: config.project, maxConnections: 1 });
        server.metrics.watchMonitoring(config.project, () => monitorResults.latest());
        try {
          await registry.migrate();
          // Connect now; when Redis is down the server still starts (503s until it is back).
          await online.ping().catch((error: Error) => process.stderr.write(`warning: ${error.message}\n`));
          const url = await server.listen({ host, port });
          if (!access) {
            const { OPEN_SERVER_WARNING } = await import('../../serving/serving-access.ts');
            const bar = '!'.repeat(OPEN_SERVER_WARNING.length > 100 ? 100 : OPEN_SERVER_WARNING.length);
            process.stderr.write(`${bar}\n${OPEN_SERVER_WARNING}\n${bar}\n`);
          }
          printLines(`serving project '${config.project}' on ${url} (POST /get-online-features, GET /health, GET /metrics)`);
          const signal = await new Promise<NodeJS.Signals>((resolve) => {
            process.once('SIGTERM', resolve);
            process.once('SIGINT', resolve);
          });
          printLines(`${signal}: shutting down (in-flight requests finish)`);
        } finally {
          await server.close();
          await Promise.allSettled([monitoring.close(), online.close(), registry.close(), monitorResults.close(), access?.close(), client?.then((c) => c.connection.close())]);
        }
        return EXIT_CODES.ok;
      }),
    );
}

function whole(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be a whole number >= ${min}, got '${value}'`);
  return n;
}
