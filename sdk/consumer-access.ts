import { Registry as MetricsRegistry } from 'prom-client';
import { DefinitionFeatures } from '../access/definition-features.ts';
import { deniedMessage } from '../access/access-policy.ts';
import type { GranaryConfig } from '../config/granary-config.ts';
import { checkPlanRequest, type OnlineFeatureReader } from '../serving/online-feature-reader.ts';
import type { OnlineFeaturesRequest } from '../serving/online-features.ts';
import { ServingAccess } from '../serving/serving-access.ts';
import { ServingError } from '../serving/serving-error.ts';
import type { DefinitionRegistry } from '../stores/registry/definition-registry.ts';
import { PostgresAccessRegistry } from '../stores/registry/postgres-access-registry.ts';

/**
 * The SDK (and so `granary get-online-features` and `granary historical`) acting as a consumer:
 * the token of `serving.token` / GRANARY_TOKEN, checked with the same rules as the feature server
 * (serving-access.ts): all or nothing, restricted reads counted. With `serving.auth: none` every
 * check passes.
 *
 * What this does and does not protect: the SDK holds the stores' credentials (Redis, PostgreSQL,
 * S3), and code holding those can read anything; so here access control keeps honest callers
 * honest and accounted for. The wall against anyone else is the feature server, which needs no
 * store credentials on the client side (README, security).
 *
 * @example
 *   const access = new ConsumerAccess(config);
 *   await access.checkOnline(reader, { featureService: 'fraud_model_v1', entityRows }); // or throws 401/403 ServingError
 *   await access.checkOffline(registry, { featureService: 'fraud_model_v1' });
 *   await access.close();
 */
export class ConsumerAccess {
  private serving: ServingAccess | undefined;
  private registry: PostgresAccessRegistry | undefined;

  constructor(private readonly config: GranaryConfig) {}

  get open(): boolean {
    return this.config.serving.auth === 'none';
  }

  /** Checks an online read before it is made; returns what to count once it is served. */
  async checkOnline(reader: OnlineFeatureReader, request: OnlineFeaturesRequest): Promise<() => void> {
    // Not a request object: the reader refuses it (INVALID_REQUEST) before reading anything.
    if (this.open || typeof request !== 'object' || request === null) return () => undefined;
    const access = this.servingAccess();
    const consumer = await access.authenticate(this.authorization());
    const plan = await reader.plan(checkPlanRequest(request));
    access.authorize(consumer, plan, await reader.catalog.current());
    return () => access.recordRead(consumer, plan);
  }

  /** Refuses (a 403 ServingError naming them) a training set or snapshot of features the consumer may not read. */
  async checkOffline(definitions: Pick<DefinitionRegistry, 'listObjects'>, request: { readonly featureService?: string; readonly features?: readonly string[] }): Promise<void> {
    if (this.open) return;
    const access = this.servingAccess();
    const consumer = await access.authenticate(this.authorization());
    const features = new DefinitionFeatures(await definitions.listObjects());
    const policy = await access.cache!.current();
    const denied = policy.denied(consumer, features.requested(request), features.serviceRefs);
    if (denied.length > 0) throw new ServingError('FORBIDDEN', deniedMessage(consumer, this.config.project, denied));
  }

  async close(): Promise<void> {
    await this.serving?.close();
    await this.registry?.close();
  }

  private authorization(): string {
    const token = this.config.serving.token;
    if (!token) {
      throw new ServingError(
        'UNAUTHORIZED',
        'no consumer token: set GRANARY_TOKEN to the token `granary access consumer create <name>` printed (or serving.auth: none, on a laptop only)',
      );
    }
    return `Bearer ${token}`;
  }

  private servingAccess(): ServingAccess {
    this.registry ??= new PostgresAccessRegistry({ url: this.config.registry.url });
    this.serving ??= new ServingAccess(this.config.project, { auth: 'token', registry: this.registry }, new MetricsRegistry());
    return this.serving;
  }
}
