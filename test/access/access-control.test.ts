import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { newToken, parseToken, verifySecret } from '../../access/consumer-token.ts';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { FeatureServer } from '../../serving/feature-server.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { PostgresAccessRegistry } from '../../stores/registry/postgres-access-registry.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { testConfig } from '../support/test-config.ts';

/**
 * Issue 18, items 1 to 4, against the real registry and Redis: tokens stored as salted hashes
 * only; 401 without a valid token; 403 naming every feature not granted, never a partial answer;
 * restricted features need an approved grant, and their reads are counted (Prometheus and the
 * audit table); grants, revokes and rotations reach a running server within 2 s; projects are walls.
 */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const profile = featureView({
  name: 'user_profile',
  entities: [user],
  source: parquetSource({ name: 'profiles', path: 'data/profiles' }),
  schema: [
    { name: 'age', type: 'int32' },
    { name: 'email', type: 'string', pii: true },
  ],
  ttl: '1d',
});
const fraud = featureView({
  name: 'fraud_signals',
  entities: [user],
  source: parquetSource({ name: 'signals', path: 'data/signals' }),
  schema: [{ name: 'risk', type: 'float64' }],
  ttl: '1d',
  sensitivity: 'restricted',
});
const repo = buildFeatureRepo('.', [
  { definition: profile },
  { definition: fraud },
  { definition: featureService({ name: 'recommender', features: [{ view: profile, features: ['age'] }] }) },
  { definition: featureService({ name: 'fraud_model', features: [fraud, { view: profile, features: ['age'] }] }) },
]);

async function project(name: string) {
  const { config, env } = testConfig(name, { GRANARY_SERVING_AUTH: 'token' });
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  await registry.apply(repo);
  after(() => registry.close());
  return { config, env, registry };
}

const a = await project('access_a');
const b = await project('access_b');
const access = new PostgresAccessRegistry({ url: a.config.registry.url });
await access.migrate();
after(() => access.close());
const online = new RedisOnlineStore({ url: a.config.online.url, keyPrefix: a.config.online.keyPrefix, failFast: true });
after(() => online.close());

const servers: FeatureServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));
async function serve(registry: PostgresRegistry): Promise<{ url: string; server: FeatureServer }> {
  const server = new FeatureServer({ registry, online, access: { auth: 'token', registry: access, audit: { flushMs: 100 } } });
  servers.push(server);
  return { url: await server.listen({ port: 0 }), server };
}
const serverA = await serve(a.registry);
const serverB = await serve(b.registry);

let made = 0;
async function consumer(label: string): Promise<{ name: string; token: string }> {
  const name = `${a.config.project}_${label}_${++made}`;
  const { token, stored } = newToken();
  await access.createConsumer({ name, project: a.config.project, description: label, token: stored, actor: 'tests' });
  // A new token is known to running servers at their next refresh (every second): 403, no longer 401.
  await within(2000, async () => (await read(serverA.url, token, recommender)).status !== 401);
  return { name, token };
}

async function read(url: string, token: string | undefined, body: unknown): Promise<{ status: number; json: { code?: string; message?: string; features?: string[]; results?: unknown[] }; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/get-online-features`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as never, headers: response.headers };
}
const recommender = { feature_service: 'recommender', entities: { user_id: ['u1'] } };
const fraudModel = { feature_service: 'fraud_model', entities: { user_id: ['u1'] } };

/** Polls until `check` holds; returns how long it took (fails after `ms`). */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    assert.ok(Date.now() - started < ms, `not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

test('a token is printed once and stored as a salted HMAC only; it verifies in constant time, a changed one does not', async () => {
  const { token, stored } = newToken();
  assert.match(token, /^gry_[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);
  const parsed = parseToken(token)!;
  assert.equal(parsed.tokenId, stored.tokenId);
  assert.ok(verifySecret(parsed.secret, stored));
  assert.ok(!verifySecret(`${parsed.secret.slice(0, -1)}${parsed.secret.endsWith('A') ? 'B' : 'A'}`, stored));
  assert.equal(parseToken(`${token}x`), undefined);

  const c = await consumer('stored');
  const pool = new pg.Pool({ connectionString: a.config.registry.url, max: 1 });
  try {
    const { rows } = await pool.query('SELECT row_to_json(t)::text AS row FROM granary_consumer_tokens t WHERE consumer = $1', [c.name]);
    assert.equal(rows.length, 1);
    const secret = parseToken(c.token)!.secret;
    assert.ok(!rows[0].row.includes(secret), 'the secret is not stored');
    assert.ok(!rows[0].row.includes(c.token), 'the token is not stored');
  } finally {
    await pool.end();
  }
  await assert.rejects(access.createConsumer({ name: c.name, project: 'x', description: '', token: newToken().stored, actor: 'tests' }), /consumer '.*' exists already/);
});

test('401 without a token, with a malformed header or an unknown token; nothing is parsed or read', async () => {
  const unknown = newToken().token;
  for (const [token, message] of [
    [undefined, /no consumer token/],
    ['', /no consumer token|not 'Bearer/],
    ['not-a-token', /not 'Bearer gry_/],
    [unknown, /not valid/],
  ] as const) {
    const { status, json, headers } = await read(serverA.url, token, recommender);
    assert.equal(status, 401, JSON.stringify(json));
    assert.equal(json.code, 'UNAUTHORIZED');
    assert.match(json.message!, message);
    assert.match(headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.ok(!JSON.stringify(json).includes(unknown), 'the token is not echoed');
  }
  // Even invalid JSON is a 401 first: the body of an unauthenticated request is never read.
  const response = await fetch(`${serverA.url}/get-online-features`, { method: 'POST', body: '{not json' });
  assert.equal(response.status, 401);
});

test('403 names every feature not granted and serves nothing; a grant reaches the running server within 2 s', async () => {
  const c = await consumer('reco');
  const denied = await read(serverA.url, c.token, fraudModel);
  assert.equal(denied.status, 403);
  assert.equal(denied.json.code, 'FORBIDDEN');
  assert.deepEqual(denied.json.features, ['fraud_signals:risk', 'user_profile:age']);
  assert.equal(denied.json.results, undefined, 'no partial answer');
  assert.match(denied.json.message!, /may not read 'fraud_signals:risk', 'user_profile:age' \(not granted\)/);

  await access.grant({ project: a.config.project, consumer: c.name, kind: 'service', name: 'recommender', feature: null, approvedBy: null }, 'tests');
  const ms = await within(2000, async () => (await read(serverA.url, c.token, recommender)).status === 200);
  console.log(`grant visible after ${ms} ms`);
  // The service grant covers its features asked for by name too, and nothing else.
  assert.equal((await read(serverA.url, c.token, { features: ['user_profile:age'], entities: { user_id: ['u1'] } })).status, 200);
  const email = await read(serverA.url, c.token, { features: ['user_profile:age', 'user_profile:email'], entities: { user_id: ['u1'] } });
  assert.equal(email.status, 403);
  assert.deepEqual(email.json.features, ['user_profile:email']);

  assert.ok(await access.revokeGrant({ project: a.config.project, consumer: c.name, kind: 'service', name: 'recommender', feature: null }, 'tests'));
  await within(2000, async () => (await read(serverA.url, c.token, recommender)).status === 403);
  const history = await access.history({ consumer: c.name });
  assert.deepEqual(history.map((e) => e.action), ['create-consumer', 'grant', 'revoke-grant']);
  assert.equal(history[1]!.target, `${a.config.project}:recommender`);
});

test('restricted features need an approved grant; their reads are counted per consumer in /metrics and the audit table', async () => {
  const c = await consumer('fraud');
  const grant = { project: a.config.project, consumer: c.name, kind: 'service' as const, name: 'fraud_model', feature: null };
  await access.grant({ ...grant, approvedBy: null }, 'tests');
  await within(2000, async () => (await read(serverA.url, c.token, fraudModel)).json.code === 'FORBIDDEN' && (await read(serverA.url, c.token, fraudModel)).json.features?.length === 1);
  const unapproved = await read(serverA.url, c.token, fraudModel);
  assert.deepEqual(unapproved.json.features, ['fraud_signals:risk']);
  assert.match(unapproved.json.message!, /restricted: needs a grant with --approved-by/);

  await access.grant({ ...grant, approvedBy: 'risk-officer@example.com' }, 'tests');
  await within(2000, async () => (await read(serverA.url, c.token, fraudModel)).status === 200);
  for (let i = 0; i < 3; i++) assert.equal((await read(serverA.url, c.token, fraudModel)).status, 200);
  // A read of no restricted feature is not counted.
  await access.grant({ project: a.config.project, consumer: c.name, kind: 'view', name: 'user_profile', feature: null, approvedBy: null }, 'tests');
  await within(2000, async () => (await read(serverA.url, c.token, { features: ['user_profile:age'], entities: { user_id: ['u1'] } })).status === 200);

  const metrics = await (await fetch(`${serverA.url}/metrics`)).text();
  const counted = new RegExp(`granary_serving_restricted_reads_total\\{consumer="${c.name}",feature="fraud_signals:risk"\\} (\\d+)`).exec(metrics);
  assert.equal(Number(counted?.[1]), 4);
  assert.ok(!metrics.includes(c.token), 'no token in /metrics');
  await within(3000, async () => {
    const rows = await access.restrictedReads({ project: a.config.project, consumer: c.name });
    return rows.reduce((n, r) => n + r.count, 0) === 4 && rows.every((r) => r.read === 'service:fraud_model');
  });
  const grants = await access.grants({ project: a.config.project, consumer: c.name });
  assert.equal(grants.find((g) => g.name === 'fraud_model')?.approvedBy, 'risk-officer@example.com');
});

test('rotation: the old token works through the grace period, then 401; a revoked consumer is refused within 2 s', async () => {
  const c = await consumer('rotate');
  await access.grant({ project: a.config.project, consumer: c.name, kind: 'view', name: 'user_profile', feature: 'age', approvedBy: null }, 'tests');
  await within(2000, async () => (await read(serverA.url, c.token, recommender)).status === 200);
  const next = newToken();
  assert.equal(await access.rotateToken({ name: c.name, project: a.config.project, token: next.stored, graceMs: 1500, actor: 'tests' }), 1);
  await within(2000, async () => (await read(serverA.url, next.token, recommender)).status === 200);
  assert.equal((await read(serverA.url, c.token, recommender)).status, 200, 'the old token still works in its grace period');
  await within(3000, async () => (await read(serverA.url, c.token, recommender)).status === 401);
  assert.equal((await read(serverA.url, next.token, recommender)).status, 200);

  await access.revokeConsumer({ name: c.name, project: a.config.project, actor: 'tests' });
  const ms = await within(2000, async () => (await read(serverA.url, next.token, recommender)).status === 401);
  console.log(`revocation visible after ${ms} ms`);
  await assert.rejects(access.grant({ project: a.config.project, consumer: c.name, kind: 'view', name: 'user_profile', feature: null, approvedBy: null }, 'tests'), /was revoked/);
});

test("projects are walls: a consumer granted everything in project A reads nothing of project B", async () => {
  const c = await consumer('walls');
  for (const view of ['user_profile', 'fraud_signals']) {
    await access.grant({ project: a.config.project, consumer: c.name, kind: 'view', name: view, feature: null, approvedBy: 'tests' }, 'tests');
  }
  await within(2000, async () => (await read(serverA.url, c.token, fraudModel)).status === 200);
  const other = await read(serverB.url, c.token, fraudModel);
  assert.equal(other.status, 403);
  assert.deepEqual(other.json.features, ['fraud_signals:risk', 'user_profile:age']);
  assert.match(other.json.message!, new RegExp(`of project '${b.config.project}'`));
});

test('the SDK acts as the consumer of GRANARY_TOKEN: online reads and training sets refuse what is not granted', async () => {
  const c = await consumer('sdk');
  await access.grant({ project: a.config.project, consumer: c.name, kind: 'service', name: 'recommender', feature: null, approvedBy: null }, 'tests');
  const store = await FeatureStore.open({ config: { ...a.config, serving: { ...a.config.serving, token: c.token } } });
  const none = await FeatureStore.open({ config: a.config });
  try {
    const ok = await store.getOnlineFeatures({ featureService: 'recommender', entityRows: [{ user_id: 'u1' }] });
    assert.deepEqual(ok.featureNames, ['age']);
    await assert.rejects(store.getOnlineFeatures({ featureService: 'fraud_model', entityRows: [{ user_id: 'u1' }] }), /may not read 'fraud_signals:risk' \(not granted\) of project/);
    await assert.rejects(store.access.checkOffline(a.registry, { features: ['user_profile:age', 'user_profile'] }), /may not read 'user_profile:email' \(not granted\)/);
    await assert.rejects(store.access.checkOffline(a.registry, { features: [' user_profile:age', 'bogus ref'] }), /'bogus ref' \(not granted\)/);
    await store.access.checkOffline(a.registry, { featureService: 'recommender' });
    await assert.rejects(none.getOnlineFeatures({ featureService: 'recommender', entityRows: [{ user_id: 'u1' }] }), /no consumer token: set GRANARY_TOKEN/);
  } finally {
    await Promise.all([store.close(), none.close()]);
  }
});
