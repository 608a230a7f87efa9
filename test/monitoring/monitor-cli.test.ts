import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../config/granary-config.ts';
import { PostgresMonitorResults } from '../../stores/registry/postgres-monitor-results.ts';
import { granary, makeRepo, uniqueProject } from '../cli/cli-fixtures.ts';

/**
 * `granary monitor` as a user runs it: the latest results with value, objective and state (exit
 * 1 on any alert), the Prometheus rule file `monitor alert-rules` prints (its structure checked
 * against the rule file's schema: promtool is not installed here), a plan that only changes
 * objectives (additive, exit code 2), and bad input refused with a message naming the flag.
 */
const repo = await makeRepo();
const project = uniqueProject('monitor');
const results = new PostgresMonitorResults({ url: loadConfig({ repoDir: process.cwd() }).registry.url, project });
after(async () => {
  await results.close();
  await repo.remove();
});
const run = (...args: string[]) => granary(['--repo', repo.dir, ...args], { project });

test('no results yet, then the latest results per view and metric; exit 1 on an alert', async () => {
  assert.equal((await run('apply')).code, 0);
  const empty = await run('monitor');
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /No monitoring results yet/);

  const at = new Date();
  const base = { view: 'user_spend', version: 1, detail: {}, measuredAt: at };
  await results.record('run-1', [
    { ...base, metric: 'freshness', feature: '', value: 60, objective: 93_600, state: 'ok' },
    { ...base, metric: 'psi', feature: 'spend_7d_avg', value: 0.05, objective: 0.2, state: 'ok' },
  ]);
  const ok = await run('monitor', 'user_spend');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /user_spend v1 +psi +spend_7d_avg +0\.05000 +0\.2000 +ok/);

  await results.record('run-2', [{ ...base, measuredAt: new Date(at.getTime() + 1000), metric: 'psi', feature: 'spend_7d_avg', value: 0.4, objective: 0.2, state: 'alert' }]);
  const alert = await run('--json', 'monitor');
  assert.equal(alert.code, 1);
  const rows = JSON.parse(alert.stdout) as { metric: string; state: string; value: number }[];
  assert.deepEqual(rows.map((r) => `${r.metric}:${r.state}`).sort(), ['freshness:ok', 'psi:alert']);

  const history = await run('--json', 'monitor', 'history', 'user_spend', 'psi');
  assert.deepEqual((JSON.parse(history.stdout) as { value: number }[]).map((r) => r.value), [0.4, 0.05]);
  // A feature service's skew result (version 0): shown as a service, each true mismatch named.
  const mismatch = { feature: 'user_spend:spend_7d_avg', entity: { user_id: 'u3' }, time: '2026-12-01T05:00:00.000Z', served: '999.25', training: '4.5', status: 'PRESENT' };
  await results.record('run-3', [
    { view: 'fraud_model', version: 0, metric: 'skew', feature: '', value: 1, objective: 0, state: 'alert', detail: { checked: 40, lagged: 2, mismatches: [mismatch] }, measuredAt: at },
  ]);
  const skew = await run('monitor', 'fraud_model');
  assert.equal(skew.code, 1);
  assert.match(skew.stdout, /fraud_model \(service\) +skew +- +1 +0 +alert/);
  assert.match(skew.stdout, /skew of feature service 'fraud_model': 40 served values checked, 1 true mismatch\(es\), 2 explained by materialization lag/);
  assert.match(skew.stdout, /user_spend:spend_7d_avg \{"user_id":"u3"\} at 2026-12-01T05:00:00\.000Z: served 999\.25, training set 4\.5/);
});

test('alert-rules prints a valid Prometheus rule file for the objectives', async () => {
  await repo.write({ extra: `export const slow = featureService({ name: 'slow_model', features: [userSpend], monitoring: { latencyP99Ms: 25 } });\n` });
  assert.equal((await run('apply')).code, 0);
  const out = await run('monitor', 'alert-rules');
  assert.equal(out.code, 0, out.stderr);
  const file = parse(out.stdout) as unknown;
  checkRuleFile(file);
  const rules = (file as { groups: { rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] }).groups[0]!.rules;
  const stale = rules.find((r) => r.alert === 'GranaryViewStale')!;
  assert.equal(stale.expr, `granary_view_freshness_seconds{project="${project}",view="user_spend"} > ${86_400 + 7200}`);
  assert.equal(stale.labels.severity, 'critical');
  assert.ok(rules.some((r) => r.alert === 'GranaryFeatureDriftPsi' && r.expr.endsWith('feature="spend_7d_avg"} > 0.2')));
  assert.ok(rules.some((r) => r.alert === 'GranaryFeatureDriftKs' && r.expr.endsWith('> 0.1')));
  assert.ok(rules.some((r) => r.alert === 'GranaryFeatureIncomplete' && r.expr.endsWith('< 0.95')));
  assert.ok(rules.some((r) => r.alert === 'GranaryServingSlow' && r.labels.feature_service === 'slow_model' && r.expr.endsWith('> 0.025')));
  assert.ok(rules.some((r) => r.alert === 'GranaryServingSlow' && r.labels.feature_service === 'fraud_model' && r.expr.endsWith('> 0.01')));
  assert.ok(rules.some((r) => r.alert === 'GranaryServingSkew' && r.labels.severity === 'critical' && r.expr === `granary_monitor_state{project="${project}",view="fraud_model",metric="skew"} == 2`));
});

test('changing objectives plans as additive; bad input is refused naming the flag', async () => {
  const source = `featureView({ name: 'user_spend', entities: [user], source: transactions, schema: [{ name: 'spend_7d_avg', type: 'float32' }, { name: 'txn_count_7d', type: 'int64' }], ttl: '1d', owner: 'fraud@example.com', description: 'Spend per user.', tags: { team: 'fraud' }, monitoring: { psi: 0.3 } })`;
  const { readFile, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const path = join(repo.dir, 'features.ts');
  const text = await readFile(path, 'utf8');
  await writeFile(path, text.replace(/featureView\(\{[\s\S]*?\n\}\)/, source));
  const plan = await run('plan');
  assert.equal(plan.code, 2, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /monitoring/);
  const bad = await run('monitor', 'baseline', 'user_spend', '--start', 'yesterday', '--end', '2024-01-02T00:00:00Z');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--start: 'yesterday' is not a time/);
  const both = await run('monitor', 'baseline', 'user_spend', '--from-file', 'train.parquet', '--start', '2024-01-01T00:00:00Z');
  assert.equal(both.code, 1);
  assert.match(both.stderr, /give --from-file, or --start and --end, not both/);
  const neither = await run('monitor', 'baseline', 'user_spend');
  assert.match(neither.stderr, /give --start and --end \(ISO times\), or --from-file F/);
  const dims = await run('monitor', 'run', '--dimensions', 'speed');
  assert.equal(dims.code, 1);
  assert.match(dims.stderr, /unknown dimension 'speed' \(known: freshness, completeness, distribution, skew, latency\)/);
});

/** The Prometheus rule file's schema (rules/recording and alerting rules), as far as alerting rules go. */
function checkRuleFile(file: unknown): void {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  assert.ok(isMap(file) && Array.isArray(file.groups) && file.groups.length > 0, 'groups: a non-empty list');
  for (const group of file.groups as unknown[]) {
    assert.ok(isMap(group));
    assert.deepEqual(Object.keys(group).filter((k) => !['name', 'interval', 'rules', 'limit'].includes(k)), []);
    assert.equal(typeof group.name, 'string');
    assert.ok(Array.isArray(group.rules) && group.rules.length > 0);
    for (const rule of group.rules as unknown[]) {
      assert.ok(isMap(rule));
      assert.deepEqual(Object.keys(rule).filter((k) => !['alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k)), []);
      assert.match(String(rule.alert), /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'alert: a valid metric name');
      assert.equal(typeof rule.expr, 'string');
      assert.match(String(rule.for), /^(\d+(ms|s|m|h|d|w|y))+$/, 'for: a Prometheus duration');
      for (const key of ['labels', 'annotations']) {
        assert.ok(isMap(rule[key]));
        for (const [name, value] of Object.entries(rule[key])) {
          assert.match(name, /^[a-zA-Z_][a-zA-Z0-9_]*$/, `${key}: label name ${name}`);
          assert.equal(typeof value, 'string');
        }
      }
      // Balanced brackets and quoted label values: a cheap syntax check of the PromQL.
      const expr = String(rule.expr);
      for (const [open, close] of [['{', '}'], ['(', ')'], ['[', ']']] as const) assert.equal(expr.split(open).length, expr.split(close).length, expr);
      assert.equal((expr.match(/"/g) ?? []).length % 2, 0, expr);
    }
  }
}
