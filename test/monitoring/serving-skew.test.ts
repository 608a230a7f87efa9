import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import type { SkewMismatch } from '../../monitoring/measure-skew.ts';
import { runMonitor } from '../../monitoring/monitor-runs.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { FeatureServer } from '../../serving/feature-server.ts';
import { ServingMetrics } from '../../serving/serving-metrics.ts';
import { ServingSampleLog, servingLogPrefix } from '../../serving/serving-sample-log.ts';
import { onlineTargetOf } from '../../stores/online/online-store.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { onlineConnection } from '../../stores/open-stores.ts';
import { PostgresMonitorResults } from '../../stores/registry/postgres-monitor-results.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { testConfig } from '../support/test-config.ts';

/**
 * Training/serving skew end to end, on a real worker process, Temporal, Redis, PostgreSQL and
 * MinIO: a feature server logs every read (rate 1) to the offline store; the monitoring workflow
 * replays the samples through point-in-time retrieval. A normal run has zero true mismatches; a
 * late-arriving row committed after a read is counted as materialization lag, apart; a value
 * written to Redis behind Granary's back is a true mismatch, named, and alerts.
 */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const account = featureView({
  name: 'account',
  entities: [user],
  source: parquetSource({ name: 'account_src', path: 'data/account' }),
  schema: [
    { name: 'balance', type: 'float64' },
    { name: 'tier', type: 'string' },
  ],
  ttl: 86_400,
});
const repo = buildFeatureRepo('.', [{ definition: account }, { definition: featureService({ name: 'account_model', features: [account] }) }]);

const { config, env } = testConfig('monitor_skew');
const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
await registry.migrate();
await registry.apply(repo);
const store = await FeatureStore.open({ config });
const results = new PostgresMonitorResults({ url: config.registry.url, project: config.project });
const online = new RedisOnlineStore(onlineConnection(config));
const worker: WorkerProcess = await startWorkerProcess(env);
const sampleLog = new ServingSampleLog({ offline: store.stores.offline, project: config.project, rate: 1, flushMs: 3_600_000 });
const server = new FeatureServer({ registry, online, access: { auth: 'none' }, observers: [sampleLog] });
await server.listen({ port: 0 });
after(async () => {
  await worker.kill('SIGKILL');
  await server.close();
  await Promise.allSettled([store.close(), registry.close(), results.close(), online.close()]);
});

const T0 = Date.now() - 60_000;
const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
await store.push('account', users.map((id, i) => ({ user_id: id, event_timestamp: new Date(T0 + i), balance: i * 1.5, tier: i % 2 ? 'silver' : 'bronze' })));

const read = async (ids: readonly string[]) => {
  const response = await server.app.inject({ method: 'POST', url: '/get-online-features', payload: { feature_service: 'account_model', entities: { user_id: ids } } });
  assert.equal(response.statusCode, 200, response.body);
};
/** Writes the log and waits out the grace period a monitoring run leaves to writes in flight. */
const flushed = async () => {
  await sampleLog.flush();
  await new Promise((resolve) => setTimeout(resolve, 5_200));
};
const latestSkew = async () => (await results.latest(['account_model'])).find((r) => r.metric === 'skew')!;

test('a normal run: every sampled value equals what a training set holds, zero true mismatches, ok', async () => {
  await read(users.slice(0, 10));
  await read(users.slice(10));
  await flushed();
  assert.equal(sampleLog.stats().written, 2);
  const summary = await runMonitor(await store.temporal(), config.temporal.taskQueue, { project: config.project, dimensions: ['skew'] });
  assert.equal(summary.services, 1);
  const skew = await latestSkew();
  assert.equal(skew.version, 0);
  assert.equal(skew.state, 'ok');
  assert.equal(skew.value, 0);
  assert.equal(skew.objective, 0);
  assert.equal(skew.detail.checked, 40, JSON.stringify(skew.detail));
  assert.equal(skew.detail.matched, 40);
  assert.equal(skew.detail.lagged, 0);
  assert.deepEqual(skew.detail.mismatches, []);
  assert.ok(String(skew.detail.lastObject).startsWith(servingLogPrefix(config.project, 'account_model')));
});

test('a late row committed after the read is lag, counted apart; a value planted in Redis is a true mismatch, named', async () => {
  // u5 is read, then a row with an earlier event time than the read arrives (committed after it).
  const readAt = Date.now();
  await read(['u5']);
  await store.push('account', [{ user_id: 'u5', event_timestamp: new Date(readAt - 10), balance: 500, tier: 'gold' }]);
  // u3's value changed in Redis behind Granary's back (no commit holds it), then read.
  const { generation } = await registry.activeGeneration('account', 1);
  const view = await store.view('account');
  await online.writeRows(onlineTargetOf(config.project, view, generation), [{ entityKey: ['u3'], values: { balance: 999.25, tier: 'bronze' }, eventTime: T0 + 3 + 1, createdTime: 0 }]);
  await read(['u3', 'u4']);
  await flushed();

  const summary = await runMonitor(await store.temporal(), config.temporal.taskQueue, { project: config.project, dimensions: ['skew'] });
  assert.equal(summary.alerts, 1);
  const skew = await latestSkew();
  assert.equal(skew.state, 'alert');
  // Only the new samples: u5 (2 values), u3 and u4 (2 each).
  assert.equal(skew.detail.checked, 6, JSON.stringify(skew.detail));
  assert.equal(skew.detail.lagged, 2, 'u5 balance and tier: served the row committed at the read, before the late one');
  // u3's planted row differs in both features (u3's committed tier is 'silver').
  const mismatches = skew.detail.mismatches as SkewMismatch[];
  const balance = mismatches.find((m) => m.feature === 'account:balance');
  assert.ok(balance, JSON.stringify(mismatches));
  assert.deepEqual(balance.entity, { user_id: 'u3' });
  assert.equal(balance.served, '999.25');
  assert.equal(balance.training, '4.5');
  assert.ok(Math.abs(Date.parse(balance.time) - Date.now()) < 60_000);
  const tier = mismatches.find((m) => m.feature === 'account:tier');
  assert.deepEqual([tier?.served, tier?.training], ['"bronze"', '"silver"']);
  assert.equal(skew.value, 2);
  assert.equal(mismatches.length, 2, 'u4 and u5 are not mismatches');
  assert.equal(skew.detail.matched, 2);

  // The count of true mismatches on /metrics, and its alert state.
  const metrics = new ServingMetrics({ defaultMetrics: false });
  metrics.watchMonitoring(config.project, () => results.latest(['account_model']));
  const text = await metrics.registry.metrics();
  assert.match(text, new RegExp(`granary_service_skew_mismatches\\{project="${config.project}",feature_service="account_model"\\} 2\n`));
  assert.match(text, new RegExp(`granary_monitor_state\\{project="${config.project}",view="account_model",feature="[^"]*",metric="skew"\\} 2\n`));
});
