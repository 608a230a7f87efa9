import { after } from 'node:test';
import { newToken } from '../../access/consumer-token.ts';
import type { GrantInput } from '../../stores/registry/access-registry.ts';
import { PostgresAccessRegistry } from '../../stores/registry/postgres-access-registry.ts';
import type { ServingAccessOptions } from '../../serving/serving-access.ts';
import type { ServingFixture } from './serving-fixtures.ts';

/**
 * A consumer for serving tests (issue 18: every read needs a token): created in the registry
 * with grants, by default on every view of the fixture's project (approved, so restricted
 * features too). Gives the server's `access` option, the token, and the headers to send.
 *
 * @example
 *   const consumer = await servingConsumer(fixture);
 *   const server = new FeatureServer({ registry, online, access: consumer.access });
 *   await fetch(url, { method: 'POST', headers: consumer.headers, body });
 */
export interface ServingConsumer {
  readonly name: string;
  readonly token: string;
  readonly access: ServingAccessOptions;
  /** content-type JSON and `authorization: Bearer <token>`. */
  readonly headers: Record<string, string>;
  /** GRANARY_SERVING_AUTH=token and GRANARY_TOKEN, for spawned commands (on top of fixture.env). */
  readonly env: Record<string, string>;
  readonly registry: PostgresAccessRegistry;
}

let made = 0;

export async function servingConsumer(
  fixture: Pick<ServingFixture, 'config' | 'registry'>,
  options: { readonly name?: string; readonly grants?: readonly Omit<GrantInput, 'project' | 'consumer'>[] } = {},
): Promise<ServingConsumer> {
  const registry = new PostgresAccessRegistry({ url: fixture.config.registry.url });
  after(() => registry.close());
  await registry.migrate();
  const project = fixture.config.project;
  const name = options.name ?? `${project}_reader_${++made}`;
  const { token, stored } = newToken();
  await registry.createConsumer({ name, project, description: 'serving tests', token: stored, actor: 'tests' });
  const grants =
    options.grants ??
    [...new Set((await fixture.registry.listObjects('featureView')).map((v) => v.name))].map((view) => ({ kind: 'view' as const, name: view, feature: null, approvedBy: 'tests' }));
  for (const grant of grants) await registry.grant({ ...grant, project, consumer: name }, 'tests');
  return {
    name,
    token,
    registry,
    access: { auth: 'token', registry, refreshMs: 200 },
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    env: { GRANARY_SERVING_AUTH: 'token', GRANARY_TOKEN: token },
  };
}
