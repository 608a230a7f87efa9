import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { OnlineStore } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { entityColumnsFromColumns } from './entity-columns.ts';
import { feastResponseJson, parseFeastRequest } from './feast-format.ts';
import type { HotKeyCacheOptions } from './hot-key-cache.ts';
import { OnlineFeatureReader } from './online-feature-reader.ts';
import { OnlineStateMonitor, type OnlineViewState } from './online-state-monitor.ts';
import { ServingError, boundedMessage, clipped } from './serving-error.ts';
import { ServingMetrics } from './serving-metrics.ts';
import { notifyServed, notifyTimed, type ServingObserver } from './serving-observer.ts';
import { AccessDeniedError, AuthRateLimitedError, ServingAccess, type ServingAccessOptions } from './serving-access.ts';
import { ViewFreshness } from './view-freshness.ts';
import { withDeadline } from './with-deadline.ts';
import type { ViewRef } from '../workflows/contracts.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The feature service a request read, for the latency histogram's label. */
    featureService: string;
    /** The consumer the request's token names (serving-access.ts). */
    consumer: string;
  }
}

/** The stores the HTTP feature server reads, and its limits, deadlines and refresh intervals. */
export interface FeatureServerOptions {
  readonly registry: Pick<Registry, 'project' | 'listObjects' | 'activeGeneration' | 'watermark' | 'commits' | 'newestEventTime' | 'migrations'>;
  /** Give the serving store `failFast` and a command timeout, so Redis down is a fast 503. */
  readonly online: Pick<OnlineStore, 'readRows' | 'ping' | 'hasGenerationMarker'>;
  /**
   * Who may read what (serving/serving-access.ts): `{ auth: 'token', registry }` requires
   * `Authorization: Bearer <token>` on every read (401 without, 403 naming the features not
   * granted); `{ auth: 'none' }` is the explicit opt-out for a laptop. No default: a server is
   * never open by omission.
   */
  readonly access: ServingAccessOptions;
  /** Entity rows per request at most. Default 1000 (config serving.maxEntities). */
  readonly maxEntities?: number;
  /** Deadline of health checks and registry reads a request waits on. Default 1000 ms (config serving.timeoutMs). */
  readonly timeoutMs?: number;
  /** Request bodies larger than this are refused (413). Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** How often definitions are checked for changes. Default 2000 ms. */
  readonly definitionsRefreshMs?: number;
  /** How often active generations are re-read. Default 1000 ms. */
  readonly generationRefreshMs?: number;
  /** Opt-in in-process cache of hot entities' rows; off when omitted. */
  readonly hotKeyCache?: HotKeyCacheOptions;
  /** How long close() lets in-flight requests finish before cutting connections. Default 10000 ms. */
  readonly shutdownGraceMs?: number;
  /**
   * /health when Redis lost a view's active generation: 503 ('fail', the default: take the
   * replica out, every read of the view is NOT_FOUND) or 200 ('ok': stay in rotation; the body
   * and /metrics still say it). Config serving.healthOnLoss.
   */
  readonly healthOnLoss?: 'ok' | 'fail';
  /**
   * Starts the view's rebuild when this server is the first to notice Redis lost it
   * (`online.onRedisLoss: rebuild`; the serve command passes sdk/online-loss.ts
   * requestRebuildAfterLoss: no request while one runs). Called again every minute while the loss lasts.
   */
  readonly rebuildOnLoss?: (ref: ViewRef) => Promise<'started' | 'running' | 'off'>;
  /** How often the generation markers are checked. Default generationRefreshMs (1000 ms). */
  readonly onlineCheckMs?: number;
  /** Told what the server does on its own (a loss noticed, a rebuild requested). */
  readonly log?: (line: string) => void;
  /** Serve HTTPS with this certificate (PEM, chain included) and key (`granary serve --tls-cert/--tls-key`). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * Told of every answered read and its duration, synchronously and never awaited (serving-observer.ts:
   * the skew sample log, the shared serving counters); closed with the server.
   */
  readonly observers?: readonly ServingObserver[];
}

export const ROUTES = {
  getOnlineFeatures: '/get-online-features',
  health: '/health',
  metrics: '/metrics',
} as const;

/**
 * The HTTP feature server (Fastify), compatible with Feast's: a client written for Feast's
 * feature server works unchanged.
 *
 *   POST /get-online-features   Feast's request and response shapes (feast-format.ts)
 *   GET  /health                200 when Redis and the registry answer and Redis still holds every
 *                               view's active generation, else 503 (see healthOnLoss)
 *   GET  /metrics               Prometheus (serving-metrics.ts)
 *
 * Bad input is a 4xx with `{"code": ..., "message": ...}` saying what is wrong (malformed JSON,
 * unknown feature or service, wrong key type, missing join key, too many entities, oversized
 * body); Redis or the registry unavailable is a fast 503, never a hang. Definitions and active
 * generations are cached and refreshed in the background (no restart after an apply or a
 * rebuild). `close()` is graceful: in-flight requests finish, new ones get 503.
 *
 * Redis losing its data is seen here too (online-state-monitor.ts): every second the active
 * generations' markers are checked; /health names the views whose generation is lost, /metrics
 * has `granary_online_state` per view, and with `rebuildOnLoss` the server starts the rebuild
 * itself, so the first process that notices repairs it.
 *
 * @example
 *   const server = new FeatureServer({ registry, online: new RedisOnlineStore({ url, keyPrefix, failFast: true, commandTimeoutMs: 1000 }) });
 *   const url = await server.listen({ host: '127.0.0.1', port: 6566 });
 *   // curl -s $url/get-online-features -d '{"feature_service": "fraud_model_v1", "entities": {"user_id": ["u1"]}}'
 *   await server.close();
 */
export class FeatureServer {
  readonly app: FastifyInstance;
  readonly reader: OnlineFeatureReader;
  readonly metrics = new ServingMetrics();
  readonly onlineState: OnlineStateMonitor;
  readonly access: ServingAccess;
  private readonly freshness: ViewFreshness;
  private readonly options: FeatureServerOptions;
  private readonly timeoutMs: number;
  private closing: Promise<void> | undefined;

  constructor(options: FeatureServerOptions) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 1000;
    const maxEntities = options.maxEntities ?? 1000;
    this.access = new ServingAccess(options.registry.project, options.access, this.metrics.registry);
    this.freshness = new ViewFreshness(options.registry);
    this.reader = new OnlineFeatureReader({
      registry: options.registry,
      online: options.online,
      definitionsRefreshMs: options.definitionsRefreshMs,
      generationRefreshMs: options.generationRefreshMs,
      registryTimeoutMs: this.timeoutMs,
      hotKeyCache: options.hotKeyCache,
      onOnlineStoreError: () => this.metrics.redisErrors.inc(),
      onStatuses: (counts) => this.metrics.countStatuses(counts),
    });
    const log = options.log ?? (() => undefined);
    this.onlineState = new OnlineStateMonitor({
      registry: options.registry,
      online: options.online,
      views: async () => (await this.reader.catalog.current()).onlineViews(),
      generations: this.reader.generations,
      intervalMs: options.onlineCheckMs ?? options.generationRefreshMs,
      onLoss: async (ref, state) => {
        const what = `online generation ${state.generation} of feature view '${ref.view}' version ${ref.version} (project '${ref.project}')`;
        const lost = `${what} is gone from Redis although commits up to ${state.watermark} were materialized: Redis lost its data`;
        if (!options.rebuildOnLoss) return log(`${lost}; reads get NOT_FOUND until it is rebuilt (granary rebuild-online ${ref.view})`);
        const started = await options.rebuildOnLoss(ref).catch((error: Error) => {
          log(`${lost}; the rebuild could not be requested (tried again shortly): ${error.message}`);
          throw error;
        });
        const action = {
          started: 'rebuild started',
          running: 'a rebuild is running',
          off: `not rebuilding (online.onRedisLoss: fail): run granary rebuild-online ${ref.view}`,
        }[started];
        log(`${lost}; ${action}`);
      },
      onError: () => undefined,
    });

    const app = Fastify({
      bodyLimit: options.bodyLimitBytes ?? 1 << 20,
      logger: false,
      return503OnClosing: true,
      ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    }) as unknown as FastifyInstance;
    this.app = app;
    app.decorateRequest('featureService', '');
    app.decorateRequest('consumer', '');

    // Every body is read as JSON whatever its content type (curl -d sends a form type), with
    // the parser's own message when it is not JSON.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const text = body as string;
      if (text.trim() === '') return done(new ServingError('INVALID_JSON', 'the request body is empty; send a JSON object'), undefined);
      try {
        done(null, JSON.parse(text));
      } catch (error) {
        done(new ServingError('INVALID_JSON', `the request body is not valid JSON: ${(error as Error).message}`), undefined);
      }
    });

    // The token is checked before the body is read: a request without a valid one costs no parsing.
    const authenticate = async (request: FastifyRequest): Promise<void> => {
      request.consumer = await this.access.authenticate(request.headers.authorization, request.ip);
    };
    const observers = options.observers ?? [];
    app.post(ROUTES.getOnlineFeatures, { onRequest: authenticate }, async (request, reply) => {
      const requestTime = observers.length > 0 ? Date.now() : 0;
      const { plan: planRequest, entities } = parseFeastRequest(request.body);
      const plan = await this.reader.plan(planRequest);
      request.featureService = plan.service ?? '';
      this.access.authorize(request.consumer, plan, await this.reader.catalog.current());
      const checked = entityColumnsFromColumns(entities, plan, maxEntities);
      const table = await this.reader.read(plan, checked);
      if (observers.length > 0) notifyServed(observers, { featureService: request.featureService, requestTime, table });
      this.access.recordRead(request.consumer, plan);
      void reply.type('application/json; charset=utf-8');
      // Encoded once here: a string would be scanned for its length, then encoded on write.
      return Buffer.from(feastResponseJson(table), 'utf8');
    });

    app.get(ROUTES.health, async (_request, reply) => {
      const [redis, registry] = await Promise.allSettled([
        withDeadline(options.online.ping(), this.timeoutMs, () => new Error(`Redis did not answer within ${this.timeoutMs} ms`)),
        this.reader.catalog.refresh(),
      ]);
      if (redis.status === 'rejected') this.metrics.redisErrors.inc();
      if (registry.status === 'rejected') this.metrics.registryErrors.inc();
      const ok = redis.status === 'fulfilled' && registry.status === 'fulfilled';
      // Both answer: check the markers now (the last states when the check runs late).
      const states = ok ? await this.checkOnlineState() : this.onlineState.states();
      const lost = states.filter((s) => s.state === 'lost');
      const failOnLoss = (options.healthOnLoss ?? 'fail') === 'fail';
      void reply.code(!ok || (lost.length > 0 && failOnLoss) ? 503 : 200);
      return {
        status: !ok ? 'unavailable' : lost.length > 0 ? 'online-data-lost' : 'ok',
        project: options.registry.project,
        redis: redis.status === 'fulfilled' ? 'ok' : messageOf(redis.reason),
        registry: registry.status === 'fulfilled' ? 'ok' : messageOf(registry.reason),
        online: lost.length > 0 ? 'lost' : 'ok',
        ...(lost.length > 0
          ? {
              lostViews: lost.map((s) => ({ view: s.view, version: s.version, generation: s.generation, watermark: s.watermark ?? 0 })),
              message:
                `Redis lost the data of ${lost.map((s) => `feature view '${s.view}' version ${s.version} (generation ${s.generation})`).join(', ')}: ` +
                `reads are NOT_FOUND until a rebuild cuts over (granary rebuild-online; granary status shows its progress)`,
            }
          : {}),
      };
    });

    app.get(ROUTES.metrics, async (_request, reply) => {
      try {
        const catalog = await this.reader.catalog.current();
        const figures = await withDeadline(
          this.freshness.update(catalog.onlineViews(), (view) => this.reader.generations.get(view.name, view.version)),
          this.timeoutMs,
          () => new Error(`the registry did not answer within ${this.timeoutMs} ms`),
        );
        this.metrics.setFreshness(figures);
      } catch {
        // The request figures are still worth serving; the ages keep their last values.
        this.metrics.registryErrors.inc();
      }
      this.metrics.setOnlineState(options.registry.project, await this.checkOnlineState());
      void reply.type(this.metrics.registry.contentType);
      return this.metrics.registry.metrics();
    });

    app.setNotFoundHandler((request, reply) => {
      void reply.code(404).send({
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${clipped(request.url)}; routes: POST ${ROUTES.getOnlineFeatures}, GET ${ROUTES.health}, GET ${ROUTES.metrics}`,
      });
    });

    app.setErrorHandler((error: FastifyError | ServingError, _request, reply) => {
      const { statusCode, code, message } = describeError(error);
      if (code === 'REGISTRY_UNAVAILABLE') this.metrics.registryErrors.inc();
      if (statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="granary"');
      if (error instanceof AuthRateLimitedError) void reply.header('retry-after', String(error.retryAfterSeconds));
      const features = error instanceof AccessDeniedError ? { features: error.features } : {};
      void reply.code(statusCode).send({ code, message: boundedMessage(message), ...features });
    });

    // Responses finishing after close() began end their connection, so close() need not wait
    // for idle keep-alive connections. Callback hooks (not async): no promise per request.
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (this.closing) void reply.header('connection', 'close');
      done(null, payload);
    });

    app.addHook('onResponse', (request, reply, done) => {
      const endpoint = request.routeOptions.url ?? 'unmatched';
      this.metrics.countRequest(endpoint, reply.statusCode);
      if (endpoint === ROUTES.getOnlineFeatures) {
        this.metrics.observeDuration(endpoint, request.featureService, reply.elapsedTime / 1000);
        if (observers.length > 0 && reply.statusCode === 200) notifyTimed(observers, request.featureService, reply.elapsedTime / 1000);
      }
      done();
    });
  }

  /** The generation markers checked now, within the deadline; the last known states otherwise. */
  private checkOnlineState(): Promise<readonly OnlineViewState[]> {
    return withDeadline(this.onlineState.check(), this.timeoutMs, () => new Error('the online state check is late')).then(
      (states) => states,
      () => this.onlineState.states(),
    );
  }

  /** Starts listening; returns the server's URL (port 0 picks a free port). */
  async listen(options: { readonly host?: string; readonly port?: number } = {}): Promise<string> {
    // Load definitions before the first request when the registry answers; a failure is not fatal
    // (requests get 503 until it answers, /health says why).
    await Promise.all([this.reader.catalog.current().catch(() => undefined), this.access.start()]);
    const address = await this.app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 6566 });
    await this.checkOnlineState();
    this.onlineState.start();
    return address;
  }

  /** Stops accepting connections, lets in-flight requests finish (up to shutdownGraceMs), stops the refreshes. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const grace = setTimeout(() => this.app.server.closeAllConnections(), this.options.shutdownGraceMs ?? 10_000);
      grace.unref();
      try {
        await this.app.close();
      } finally {
        clearTimeout(grace);
        this.onlineState.close();
        this.reader.close();
        await this.access.close();
        await Promise.allSettled((this.options.observers ?? []).map((o) => o.close?.()));
      }
    })();
    return this.closing;
  }
}

function describeError(error: FastifyError | ServingError): { statusCode: number; code: string; message: string } {
  if (error instanceof ServingError) return { statusCode: error.statusCode, code: error.code, message: error.message };
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, code: 'BODY_TOO_LARGE', message: `the request body is larger than the limit (${error.message})` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: error.message };
  }
  const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (statusCode < 500) return { statusCode, code: 'INVALID_REQUEST', message: error.message };
  return { statusCode: 500, code: 'INTERNAL', message: `internal error: ${error.message}` };
}

function messageOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
