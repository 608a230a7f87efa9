import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import { runMonitor } from '../../monitoring/monitor-runs.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { ServingMetrics } from '../../serving/serving-metrics.ts';
import { RedisServingCounters } from '../../stores/online/redis-serving-counters.ts';
import { onlineConnection } from '../../stores/open-stores.ts';
import { PostgresMonitorResults } from '../../stores/registry/postgres-monitor-results.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { testConfig } from '../support/test-config.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';

/**
 * The shared serving counters with two real `granary serve` processes: each adds its status
 * counts and latency buckets to the same Redis numbers, so the sums are those of both; the
 * monitoring workflow reads them into served completeness per feature and the p99 latency per
 * feature service, stored with its objective.
 */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const meter = featureView({
  name: 'meter',
  entities: [user],
  source: parquetSource({ name: 'meter_src', path: 'data/meter' }),
  schema: [
    { name: 'reading', type: 'float64' },
    { name: 'unit', type: 'string' },
  ],
  ttl: 86_400,
});
const repo = buildFeatureRepo('.', [
  { definition: meter },
  { definition: featureService({ name: 'meter_model', features: [meter], monitoring: { latencyP99Ms: 250 } }) },
]);

const { config, env } = testConfig('monitor_counters', { GRANARY_MONITOR_SKEW_SAMPLE_RATE: '0' });
const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
await registry.migrate();
await registry.apply(repo);
const store = await FeatureStore.open({ config });
const results = new PostgresMonitorResults({ url: config.registry.url, project: config.project });
const counters = new RedisServingCounters(onlineConnection(config));
const worker: WorkerProcess = await startWorkerProcess(env);
after(async () => {
  await worker.kill('SIGKILL');
  await Promise.allSettled([store.close(), registry.close(), results.close(), counters.close()]);
});
// u0..u9; every other reading is null.
await store.push('meter', Array.from({ length: 10 }, (_, i) => ({ user_id: `u${i}`, event_timestamp: new Date(Date.now() - 60_000 + i), reading: i % 2 ? null : i, unit: 'kWh' })));

function serve(): Promise<ServeProcess> {
  return startServe(['--port', '0'], { ...process.env, ...env });
}

const read = async (url: string, ids: readonly string[]) => {
  const response = await fetch(`${url}/get-online-features`, { method: 'POST', body: JSON.stringify({ feature_service: 'meter_model', entities: { user_id: ids } }) });
  assert.equal(response.status, 200, await response.text());
};

test('two server processes add to the same counters; the workflow stores served completeness and p99 latency', async () => {
  const [a, b] = await Promise.all([serve(), serve()]);
  const ids = Array.from({ length: 10 }, (_, i) => `u${i}`);
  for (let n = 0; n < 30; n++) await read(a.url, ids);
  for (let n = 0; n < 20; n++) await read(b.url, [...ids, 'nobody']);
  // SIGTERM: each server's close() sends what it still holds.
  for (const s of [a, b]) {
    const exited = once(s.child, 'exit');
    s.child.kill('SIGTERM');
    assert.equal(((await exited) as [number | null])[0], 0, s.output());
  }

  const minute = Math.floor(Date.now() / 60_000);
  const { statuses, latency } = await counters.read(config.project, minute - 5, minute);
  const count = (feature: string, status: string) => statuses.filter((s) => s.view === 'meter' && s.feature === feature && s.status === status).reduce((n, s) => n + s.count, 0);
  // A: 30 x 10 rows; B: 20 x 11 rows. Readings: 5 of 10 present.
  assert.equal(count('reading', 'PRESENT'), 30 * 5 + 20 * 5);
  assert.equal(count('reading', 'NULL_VALUE'), 30 * 5 + 20 * 5);
  assert.equal(count('reading', 'NOT_FOUND'), 20);
  assert.equal(count('unit', 'PRESENT'), 30 * 10 + 20 * 10);
  assert.equal(latency.filter((l) => l.featureService === 'meter_model').reduce((n, l) => n + l.count, 0), 50, 'every response of both servers');

  const run = await runMonitor(await store.temporal(), config.temporal.taskQueue, { project: config.project, dimensions: ['completeness', 'latency'] });
  assert.equal(run.services, 1);
  const latest = await results.latest(['meter', 'meter_model']);
  const served = (feature: string) => latest.find((r) => r.metric === 'served_completeness' && r.feature === feature)!;
  assert.equal(served('reading').value, 250 / 520);
  assert.equal(served('reading').state, 'alert');
  assert.equal(served('reading').detail.served, 520);
  assert.equal(served('unit').value, 500 / 520);
  // 0.9615: above the objective (0.95), below halfway (0.975).
  assert.equal(served('unit').state, 'warn');
  const p99 = latest.find((r) => r.view === 'meter_model' && r.metric === 'latency_p99')!;
  assert.equal(p99.version, 0);
  assert.equal(p99.objective, 250, 'the objective the service declares');
  assert.equal(p99.detail.responses, 50);
  assert.ok(p99.value > 0 && p99.value <= 2500, JSON.stringify(p99));
  assert.equal(p99.state, p99.value > 250 ? 'alert' : p99.value > 125 ? 'warn' : 'ok');

  // The same values on /metrics: the p99 in seconds, served completeness by feature.
  const metrics = new ServingMetrics({ defaultMetrics: false });
  metrics.watchMonitoring(config.project, () => results.latest(['meter', 'meter_model']));
  const text = await metrics.registry.metrics();
  assert.match(text, new RegExp(`granary_service_latency_p99_seconds\\{project="${config.project}",feature_service="meter_model"\\} ${p99.value / 1000}\n`));
  assert.match(text, new RegExp(`granary_feature_completeness\\{project="${config.project}",view="meter",feature="reading",source="served"\\} ${250 / 520}`));
});
