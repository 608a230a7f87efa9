import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { buildFeatureRepo, entity, featureService, featureView, parquetSource } from '../../definitions/index.ts';
import { runMonitor } from '../../monitoring/monitor-runs.ts';
import { computeBaselines } from '../../monitoring/view-distribution.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';
import { FeatureStore } from '../../sdk/feature-store.ts';
import { ServingMetrics } from '../../serving/serving-metrics.ts';
import { PostgresMonitorResults } from '../../stores/registry/postgres-monitor-results.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { testConfig } from '../support/test-config.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * The monitoring workflow end to end, on a real worker process, Temporal, Redis, PostgreSQL and
 * MinIO: ingestion stops on a view with an 8-second TTL and a 2-second threshold, and freshness
 * goes from ok to alert once TTL + threshold passed; a batch with many nulls alerts on the
 * completeness of the latest online rows; a shifted batch alerts on PSI. Every result is stored
 * with its time (history reads back), each state change is POSTed to a webhook served here, and
 * the latest results show as gauges on the feature server's /metrics.
 */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const quick = featureView({
  name: 'quick',
  entities: [user],
  source: parquetSource({ name: 'quick_src', path: 'data/quick' }),
  schema: [
    { name: 'score', type: 'float64' },
    { name: 'label', type: 'string' },
  ],
  ttl: 8,
  // A window of 1 second of event time: each push below is its own window.
  monitoring: { freshnessThreshold: 2, window: 1 },
});
const repo = buildFeatureRepo('.', [{ definition: quick }, { definition: featureService({ name: 'quick_model', features: [quick] }) }]);

const hook = await startWebhookReceiver();
const { received } = hook;
const hookUrl = hook.url('/granary');

const { config, env } = testConfig('monitor_wf');
const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
await registry.migrate();
await registry.apply(repo);
const store = await FeatureStore.open({ config });
const results = new PostgresMonitorResults({ url: config.registry.url, project: config.project });
const worker: WorkerProcess = await startWorkerProcess({ ...env, GRANARY_MONITOR_WEBHOOKS: hookUrl });
after(async () => {
  await worker.kill('SIGKILL');
  await Promise.allSettled([store.close(), registry.close(), results.close()]);
  hook.close();
});

const rows = (n: number, at: number, score: (i: number) => number | null) =>
  Array.from({ length: n }, (_, i) => ({ user_id: `u${i}`, event_timestamp: new Date(at - (n - i)), score: score(i), label: i % 2 ? 'a' : 'b' }));
const run = async (dimensions: ('freshness' | 'completeness' | 'distribution')[]) =>
  runMonitor(await store.temporal(), config.temporal.taskQueue, { project: config.project, dimensions });
const latestOf = async (metric: string, feature = '') => (await results.latest(['quick'])).find((r) => r.metric === metric && r.feature === feature)!;

test('freshness: ok while rows arrive, alert once TTL + threshold passed after ingestion stopped', async () => {
  const pushedAt = Date.now();
  await store.push('quick', rows(200, pushedAt, (i) => i / 200));
  const first = await run(['freshness', 'completeness']);
  assert.equal(first.views, 1);
  assert.equal((await latestOf('freshness')).state, 'ok');
  assert.equal((await latestOf('online_freshness')).state, 'ok');
  assert.equal((await latestOf('completeness', 'score')).state, 'ok');
  assert.equal((await latestOf('completeness', 'score')).value, 1);

  // Ingestion stops; past TTL (8 s) + threshold (2 s):
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, pushedAt + 10_500 - Date.now())));
  const second = await run(['freshness']);
  assert.ok(second.alerts >= 2, JSON.stringify(second));
  const freshness = await latestOf('freshness');
  assert.equal(freshness.state, 'alert');
  assert.ok(freshness.value > 10 && freshness.objective === 10, JSON.stringify(freshness));
  // History: both results are kept, newest first.
  const history = await results.history('quick', 'freshness');
  assert.deepEqual(history.map((r) => r.state), ['alert', 'ok']);
  // The webhook heard the change.
  const changes = received.flatMap((r) => r.changes);
  assert.ok(changes.some((c) => c.metric === 'freshness' && c.from === 'ok' && c.to === 'alert'), JSON.stringify(received));
  assert.ok(received.every((r) => r.project === config.project));
});

test('completeness: a batch with many nulls alerts on the latest online rows', async () => {
  const before = received.length;
  await store.push('quick', rows(200, Date.now(), (i) => (i % 4 === 0 ? i : null)));
  const summary = await run(['completeness']);
  const score = await latestOf('completeness', 'score');
  assert.equal(score.state, 'alert');
  assert.equal(score.value, 0.25);
  assert.equal((await latestOf('completeness', 'label')).state, 'ok');
  assert.ok(summary.changes >= 1);
  assert.ok(received.slice(before).flatMap((r) => r.changes).some((c) => c.metric === 'completeness' && c.feature === 'score' && c.to === 'alert'));
});

test('distribution through the workflow: a shifted batch alerts on PSI; the gauges show every result', async () => {
  const baselineEnd = Date.now();
  const view = await store.view('quick');
  await store.push('quick', rows(400, baselineEnd - 1000, (i) => i / 400));
  const baselines = await computeBaselines({ registry: store.stores.registry(), offline: store.stores.offline }, view, { start: baselineEnd - 60_000, end: baselineEnd });
  await results.saveBaselines(baselines);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await store.push('quick', rows(400, Date.now(), (i) => 5 + i / 400));
  await run(['distribution']);
  assert.equal((await latestOf('psi', 'score')).state, 'alert');
  assert.equal((await latestOf('ks', 'score')).state, 'alert');

  const metrics = new ServingMetrics({ defaultMetrics: false });
  metrics.watchMonitoring(config.project, () => results.latest());
  const text = await metrics.registry.metrics();
  const p = config.project;
  const shown = text.split('\n').filter((l) => l.startsWith('granary_feature') || l.startsWith('granary_view_freshness') || l.startsWith('granary_monitor')).join('\n');
  const match = (re: RegExp): void => assert.match(shown, re);
  match(new RegExp(`granary_feature_psi\\{project="${p}",view="quick",feature="score"\\} \\d`));
  match(new RegExp(`granary_feature_ks\\{project="${p}",view="quick",feature="score"\\} 0\\.[1-9]`));
  match(new RegExp(`granary_view_freshness_seconds\\{project="${p}",view="quick",source="commit-log"\\} `));
  match(new RegExp(`granary_feature_completeness\\{project="${p}",view="quick",feature="score",source="online-sample"\\} 0.25`));
  match(new RegExp(`granary_monitor_state\\{project="${p}",view="quick",feature="score",metric="psi"\\} 2`));
});

test('monitor schedule: three Temporal Schedules, created then updated, starting the monitoring workflow', async () => {
  const { upsertMonitorSchedules } = await import('../../monitoring/monitor-runs.ts');
  const client = await store.temporal();
  const first = await upsertMonitorSchedules(client, config.temporal.taskQueue, config.project);
  assert.deepEqual(first.map((s) => `${s.scheduleId} ${s.outcome}`), [
    `monitor-schedule/${config.project}/minutely created`,
    `monitor-schedule/${config.project}/hourly created`,
    `monitor-schedule/${config.project}/daily created`,
  ]);
  const again = await upsertMonitorSchedules(client, config.temporal.taskQueue, config.project);
  assert.deepEqual(again.map((s) => s.outcome), ['updated', 'updated', 'updated']);
  try {
    const minutely = await client.schedule.getHandle(first[0]!.scheduleId).describe();
    assert.deepEqual(minutely.spec.intervals?.map((i) => i.every), [60_000]);
    assert.equal(minutely.action.type, 'startWorkflow');
    assert.equal(minutely.action.type === 'startWorkflow' && minutely.action.workflowType, 'monitorWorkflow');
    assert.deepEqual(minutely.action.type === 'startWorkflow' && minutely.action.args, [{ project: config.project, dimensions: ['freshness', 'completeness', 'latency'] }]);
    const hourly = await client.schedule.getHandle(first[1]!.scheduleId).describe();
    assert.deepEqual(hourly.spec.intervals?.map((i) => i.every), [3_600_000]);
    assert.deepEqual(hourly.action.type === 'startWorkflow' && hourly.action.args, [{ project: config.project, dimensions: ['skew'] }]);
    const daily = await client.schedule.getHandle(first[2]!.scheduleId).describe();
    assert.deepEqual(daily.spec.intervals?.map((i) => i.every), [86_400_000]);
    // A triggered run of the schedule measures and stores results like any run.
    const before = (await results.history('quick', 'freshness', { limit: 1000 })).length;
    await client.schedule.getHandle(first[0]!.scheduleId).trigger();
    const deadline = Date.now() + 30_000;
    while ((await results.history('quick', 'freshness', { limit: 1000 })).length === before) {
      assert.ok(Date.now() < deadline, 'the scheduled run stored no result within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    for (const s of first) await client.schedule.getHandle(s.scheduleId).delete();
  }
});
