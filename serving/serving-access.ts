import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import { AccessCache, type AccessCacheOptions } from '../access/access-cache.ts';
import { deniedMessage, type AccessPolicy, type AuthFailure, type RequestedFeature } from '../access/access-policy.ts';
import { FailedAuthLimiter, type FailedAuthLimiterOptions } from '../access/failed-auth-limiter.ts';
import { RestrictedReadAudit, type RestrictedReadAuditOptions } from '../access/restricted-read-audit.ts';
import type { AccessRegistry } from '../stores/registry/access-registry.ts';
import type { FeaturePlan, ServingCatalog } from './serving-catalog.ts';
import { ServingError } from './serving-error.ts';

/**
 * How the read path lets consumers in: `{ auth: 'token', registry }` (every read names a consumer
 * by its token and reads only what it is granted), or `{ auth: 'none' }`, the explicit opt-out
 * for a laptop (config `serving.auth: none`), which the server announces loudly at start.
 */
export type ServingAccessOptions =
  | ({ readonly auth: 'token'; readonly registry: Pick<AccessRegistry, 'accessVersion' | 'snapshot' | 'recordRestrictedReads'> } & AccessCacheOptions & {
        readonly audit?: RestrictedReadAuditOptions;
        /** Failed authentications per client address before they are answered 429 (config `serving.authFailuresPerSecond`); absent: no limit. */
        readonly failedAuthLimit?: FailedAuthLimiterOptions;
      })
  | { readonly auth: 'none' };

/** The consumer name restricted reads are counted under when auth is 'none'. */
export const ANONYMOUS = '(anonymous)';

/** The warning `granary serve` prints with `serving.auth: none`. */
export const OPEN_SERVER_WARNING =
  'WARNING: serving.auth is none: this feature server lets ANYONE who reaches it read EVERY feature of the project, restricted ones included. Use it on a laptop only.';

/**
 * Access control on the feature server's read path (the HTTP server and the SDK): who is asking
 * (`authenticate`, 401), whether they may read all of a plan's features (`authorize`, 403 naming
 * the ones they may not, nothing read), and the count of restricted reads per consumer
 * (`recordRead`: Prometheus now, the registry's audit table in batches). The rules come from an
 * AccessCache refreshed every second.
 *
 * Metrics, on the server's registry:
 *   granary_serving_auth_failures_total{reason}                 missing, malformed, unknown-token, expired, revoked, forbidden
 *   granary_serving_auth_rate_limited_total                     failed authentications answered 429 (over the address's budget)
 *   granary_serving_restricted_reads_total{consumer, feature}   one per restricted feature read
 *
 * @example
 *   const access = new ServingAccess('fraud', { auth: 'token', registry: new PostgresAccessRegistry({ url }) }, metrics.registry);
 *   const consumer = await access.authenticate(request.headers.authorization); // or a 401 ServingError
 *   access.authorize(consumer, plan, catalog);                                  // or a 403 ServingError
 */
export class ServingAccess {
  readonly open: boolean;
  readonly cache: AccessCache | undefined;
  readonly audit: RestrictedReadAudit | undefined;
  readonly limiter: FailedAuthLimiter | undefined;
  private readonly failures: Counter<'reason'>;
  private readonly rateLimited: Counter;
  /** Consumers allowed each plan, under one policy (access version). */
  private readonly allowed = new WeakMap<FeaturePlan, { readonly policy: AccessPolicy; readonly consumers: Set<string> }>();
  /** Each plan's restricted features. */
  private readonly restrictedOf = new WeakMap<FeaturePlan, readonly RequestedFeature[]>();
  private readonly restrictedReads: Counter<'consumer' | 'feature'>;

  constructor(
    readonly project: string,
    options: ServingAccessOptions,
    metrics: MetricsRegistry,
  ) {
    this.open = options.auth === 'none';
    if (options.auth === 'token') {
      this.cache = new AccessCache(options.registry, project, options);
      this.audit = new RestrictedReadAudit(options.registry, project, options.audit);
      if (options.failedAuthLimit) this.limiter = new FailedAuthLimiter(options.failedAuthLimit);
    }
    this.failures = new Counter({
      name: 'granary_serving_auth_failures_total',
      help: 'Requests refused by access control, by reason (401 reasons, and forbidden: 403)',
      labelNames: ['reason'] as const,
      registers: [metrics],
    });
    this.rateLimited = new Counter({
      name: 'granary_serving_auth_rate_limited_total',
      help: 'Failed authentications answered 429: the client address was over its budget of failures (serving.authFailuresPerSecond)',
      registers: [metrics],
    });
    this.restrictedReads = new Counter({
      name: 'granary_serving_restricted_reads_total',
      help: 'Reads of restricted features (pii, or of a restricted view), by consumer and feature',
      labelNames: ['consumer', 'feature'] as const,
      registers: [metrics],
    });
  }

  /** Loads the rules before the first request (a failure is not fatal: requests get 503 until they load). */
  async start(): Promise<void> {
    await this.cache?.current().catch(() => undefined);
  }

  /**
   * The consumer named by an Authorization header; a 401 ServingError for none or a bad one (a 429
   * AuthRateLimitedError instead when `client`, the remote address, is over its budget of
   * failures), a 503 when the rules cannot be loaded. Synchronous work only once the rules are loaded.
   */
  async authenticate(authorization: string | undefined, client?: string): Promise<string> {
    if (!this.cache) return ANONYMOUS;
    let policy = this.cache.ready();
    if (!policy) {
      try {
        policy = await this.cache.current();
      } catch (error) {
        throw new ServingError('REGISTRY_UNAVAILABLE', `access rules of project '${this.project}' could not be read: ${(error as Error).message}`, { cause: error });
      }
    }
    const who = policy.authenticate(authorization);
    if (who.ok) return who.consumer;
    if (this.limiter && client !== undefined && !this.limiter.spend(client)) {
      this.rateLimited.inc();
      const seconds = this.limiter.retryAfterSeconds(client);
      throw new AuthRateLimitedError(
        `too many failed authentications from ${client} (over ${this.limiter.perSecond}/s, bursts of ${this.limiter.burst}); retry after ${seconds} s with a valid token (valid tokens are always served)`,
        seconds,
      );
    }
    this.failures.inc({ reason: who.reason });
    throw new ServingError('UNAUTHORIZED', UNAUTHORIZED_MESSAGES[who.reason]);
  }

  /**
   * Throws a 403 ServingError naming every feature of the plan the consumer may not read; returns
   * when it may read them all. A consumer allowed a plan is remembered with the plan for as long
   * as the rules do not change (a plan belongs to one catalog, the rules are one policy object
   * per access version), so a repeated request costs a map lookup, not a walk of the grants.
   */
  authorize(consumer: string, plan: FeaturePlan, catalog: ServingCatalog): void {
    if (!this.cache) return;
    const policy = this.cache.ready();
    if (!policy) throw new ServingError('REGISTRY_UNAVAILABLE', `access rules of project '${this.project}' are not loaded`);
    const allowed = this.allowed.get(plan);
    if (allowed?.policy === policy && allowed.consumers.has(consumer)) return;
    const denied = policy.denied(consumer, requestedOf(plan), (service) => serviceRefs(catalog, service));
    if (denied.length === 0) {
      if (allowed?.policy === policy && allowed.consumers.size < MAX_REMEMBERED_CONSUMERS) allowed.consumers.add(consumer);
      else this.allowed.set(plan, { policy, consumers: new Set([consumer]) });
      return;
    }
    this.failures.inc({ reason: 'forbidden' });
    throw new AccessDeniedError(deniedMessage(consumer, this.project, denied), denied.map((d) => d.ref));
  }

  /** Counts a served read of the plan's restricted features, if any. */
  recordRead(consumer: string, plan: FeaturePlan): void {
    let restricted = this.restrictedOf.get(plan);
    if (!restricted) {
      restricted = requestedOf(plan).filter((f) => f.restricted);
      this.restrictedOf.set(plan, restricted);
    }
    if (restricted.length === 0) return;
    for (const f of restricted) this.restrictedReads.inc({ consumer, feature: f.ref });
    this.audit?.count(consumer, plan.service !== null ? `service:${plan.service}` : `features:${restricted.map((f) => f.ref).join(',')}`);
  }

  async close(): Promise<void> {
    this.cache?.close();
    await this.audit?.close().catch(() => undefined);
  }
}

/** Consumers remembered as allowed per plan at most (beyond, the plan's set starts over). */
const MAX_REMEMBERED_CONSUMERS = 10_000;

/** A 403: the consumer may not read these features (`features` in the response body). */
export class AccessDeniedError extends ServingError {
  constructor(
    message: string,
    readonly features: readonly string[],
  ) {
    super('FORBIDDEN', message);
  }
}

/** A 429: the client address failed authentication too often; `Retry-After: retryAfterSeconds`. */
export class AuthRateLimitedError extends ServingError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('TOO_MANY_AUTH_FAILURES', message);
  }
}

const UNAUTHORIZED_MESSAGES: Record<AuthFailure, string> = {
  missing: "no consumer token: send 'Authorization: Bearer <token>' (granary access consumer create <name> prints one)",
  malformed: "the Authorization header is not 'Bearer gry_<id>.<secret>'",
  'unknown-token': 'the token is not valid',
  expired: 'the token expired (it was rotated; use the new one)',
  revoked: "the token's consumer was revoked",
};

/** The plan's features with whether each is restricted (pii, or its view is restricted). */
export function requestedOf(plan: FeaturePlan): RequestedFeature[] {
  return plan.features.map((f) => ({ ref: f.ref, restricted: f.feature.pii || plan.views[f.viewIndex]!.view.sensitivity === 'restricted' }));
}

function serviceRefs(catalog: ServingCatalog, service: string): readonly string[] | undefined {
  if (!catalog.hasService(service)) return undefined;
  try {
    return catalog.plan({ featureService: service }).features.map((f) => f.ref);
  } catch {
    return undefined;
  }
}
