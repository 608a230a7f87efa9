import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../config/granary-config.ts';
import { workerMonitoring } from '../../monitoring/worker-monitoring.ts';
import { openStores } from '../../stores/open-stores.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { tempDir } from '../support/temp-dir.ts';
import { testConfig } from '../support/test-config.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * `monitoring.webhooks` in granary.yaml (no GRANARY_MONITOR_WEBHOOKS): the worker's monitoring
 * activities POST each state change to it, as they do to the variable's URLs.
 */
const hook = await startWebhookReceiver();
const { received } = hook;
after(() => hook.close());

test('monitoring.webhooks from granary.yaml receives the state changes a run records', async () => {
  const { env } = testConfig('monitor_hook_cfg');
  const repo = await tempDir('monitor-hook');
  await writeFile(join(repo, 'granary.yaml'), `monitoring:\n  webhooks:\n    - ${hook.url('/from-yaml')}\n`);
  const processEnv = { ...process.env, ...env };
  delete processEnv.GRANARY_MONITOR_WEBHOOKS;
  const config = loadConfig({ repoDir: repo, env: processEnv });
  assert.equal(config.monitoring.webhooks.length, 1);
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  const stores = openStores(config);
  const monitoring = workerMonitoring(config, stores);
  try {
    const result = { view: 'v', version: 1, metric: 'freshness', feature: '', value: 99, objective: 10, state: 'alert' as const, detail: {}, measuredAt: new Date() };
    const out = await monitoring.activities.recordMonitorResults({ project: config.project, runId: 'run-1', results: [result] });
    assert.equal(out.changes, 1);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.project, config.project);
    assert.deepEqual(received[0]!.changes.map((c) => [c.view, c.metric, c.from, c.to]), [['v', 'freshness', null, 'alert']]);
  } finally {
    await Promise.allSettled([monitoring.close(), stores.close(), registry.close()]);
  }
});
