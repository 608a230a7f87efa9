import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { localStack } from '../../config/local-stack.ts';
import { buildFeatureRepo, type Definition, type FeatureRepo } from '../../definitions/feature-repo.ts';
import { entity, type Entity } from '../../definitions/entity.ts';
import { featureService } from '../../definitions/feature-service.ts';
import { featureView, type FeatureOptions, type FeatureView, type FeatureViewOptions } from '../../definitions/feature-view.ts';
import { parquetSource, type Source, type SourceOptions } from '../../definitions/source.ts';
import { desiredObjects, type RegisteredState } from '../../definitions/changes/plan-changes.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';

/** Shared pieces of the registry tests: a unique project per test, small repos, the database URL. */
export const REGISTRY_URL = process.env.GRANARY_POSTGRES_URL || localStack().postgres.url;

export function uniqueProject(label: string): string {
  return `test_${label}_${randomBytes(5).toString('hex')}`;
}

export async function openRegistry(project: string): Promise<PostgresRegistry> {
  const registry = new PostgresRegistry({ url: REGISTRY_URL, project });
  await registry.migrate();
  return registry;
}

export function newPool(url = REGISTRY_URL): pg.Pool {
  return new pg.Pool({ connectionString: url, max: 2 });
}

export const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });

export function transactions(overrides: Partial<SourceOptions> = {}): Source {
  return parquetSource({ name: 'transactions', path: 'data/transactions', createdTimestampColumn: 'created_timestamp', ...overrides });
}

export const BASE_FEATURES: FeatureOptions[] = [
  { name: 'spend_7d_avg', type: 'float32' },
  { name: 'txn_count_7d', type: 'int64', nullable: false },
];

/** The view `user_spend` (version 1 unless overridden) over `user` and `transactions`. */
export function spendView(overrides: Partial<FeatureViewOptions> = {}): FeatureView {
  return featureView({
    name: 'user_spend',
    entities: [user],
    source: transactions(),
    schema: BASE_FEATURES,
    ttl: '1d',
    owner: 'fraud@example.com',
    description: 'Spend per user.',
    tags: { team: 'fraud' },
    ...overrides,
  });
}

export function withFeatures(...features: FeatureOptions[]): Partial<FeatureViewOptions> {
  return { schema: features };
}

/** A repo of these definitions, plus a service reading every feature of the first view. */
export function repoOf(...definitions: Definition[]): FeatureRepo {
  return buildFeatureRepo('/tmp/granary-test-repo', definitions.map((definition) => ({ definition })));
}

/** The usual repo: user, transactions, user_spend v1 (or the given view), and fraud_model reading it. */
export function spendRepo(view: FeatureView = spendView(), extra: Definition[] = []): FeatureRepo {
  return repoOf(view, featureService({ name: 'fraud_model', features: [view] }), ...extra);
}

/** The repo's objects as if they had been applied (for pure plan tests). */
export function registeredFrom(repo: FeatureRepo, status: RegisteredState['status'] = 'active'): RegisteredState[] {
  return desiredObjects(repo).map((d) => ({ ...d, status }));
}

export const customer: Entity = entity({ name: 'customer', joinKey: 'customer_id', valueType: 'int64' });
