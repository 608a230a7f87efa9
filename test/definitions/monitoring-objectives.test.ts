// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featureService } from '../../definitions/feature-service.ts';
import { planChanges } from '../../definitions/changes/plan-changes.ts';
import { specOf } from '../../definitions/spec.ts';
import { featureViewFromSpec } from '../../definitions/view-from-spec.ts';
import { DEFAULT_OBJECTIVES, serviceLatencyObjectiveMs, viewObjectives } from '../../monitoring/objectives.ts';
import { stateOf } from '../../monitoring/monitor-state.ts';
import { registeredFrom, repoOf, spendRepo, spendView } from '../registry/registry-fixtures.ts';

/** Monitoring objectives in definitions: defaults without writing anything, checks, additive in plan. */
test('a view without monitoring gets the defaults and keeps its spec (no monitoring key)', () => {
  const view = spendView();
  assert.equal('monitoring' in specOf(view), false);
  const o = viewObjectives(view);
  assert.equal(o.freshnessThresholdSeconds, 7200);
  assert.equal(o.completeness, 0.95);
  assert.equal(o.psi, 0.2);
  assert.equal(o.ks, 0.1);
  assert.equal(o.windowSeconds, 86_400);
  assert.equal(o.ttlSeconds, 86_400);
  assert.deepEqual(o.features.spend_7d_avg ?? Object.values(o.features)[0], { completeness: 0.95, psi: 0.2, ks: 0.1 });
  assert.equal(serviceLatencyObjectiveMs(featureService({ name: 's', features: [view] })), DEFAULT_OBJECTIVES.latencyP99Ms);
});

test('declared objectives: the view over the defaults, a feature over the view; they survive the spec', () => {
  const base = spendView();
  const first = base.features[0]!.name;
  const view = spendView({
    monitoring: { freshnessThreshold: '30m', psi: 0.3, window: '7d' },
    schema: base.features.map((f, i) => ({ name: f.name, type: f.type, ...(i === 0 ? { monitoring: { completeness: 0.99, ks: 0.05 } } : {}) })),
  });
  const again = featureViewFromSpec(specOf(view));
  for (const v of [view, again]) {
    const o = viewObjectives(v);
    assert.equal(o.freshnessThresholdSeconds, 1800);
    assert.equal(o.windowSeconds, 7 * 86_400);
    assert.deepEqual(o.features[first], { completeness: 0.99, psi: 0.3, ks: 0.05 });
  }
  assert.equal(serviceLatencyObjectiveMs(featureService({ name: 's', features: [view], monitoring: { latencyP99Ms: 5 } })), 5);
});

test('bad objectives are refused, naming the object and field', () => {
  assert.throws(() => spendView({ monitoring: { completeness: 1.5 } }), /feature view 'user_spend'.*monitoring\.completeness.*between 0 and 1/);
  assert.throws(() => spendView({ monitoring: { freshnessThreshold: 'soon' } }), /monitoring\.freshnessThreshold/);
  assert.throws(() => spendView({ monitoring: { psl: 0.2 } as never }), /psl.*not a known field/);
  assert.throws(() => featureService({ name: 's', features: [spendView()], monitoring: { latencyP99Ms: -1 } }), /latencyP99Ms/);
});

test('changing objectives is an additive change in plan', () => {
  const registered = registeredFrom(spendRepo());
  const plan = planChanges('p', registered, repoOf(spendView({ monitoring: { psi: 0.25 } }), featureService({ name: 'fraud_model', features: [spendView()], monitoring: { latencyP99Ms: 20 } })));
  assert.equal(plan.breaking, false);
  const paths = plan.changes.flatMap((c) => c.fields.map((f) => `${c.kind}:${f.path}:${f.breaking}`));
  assert.ok(paths.includes('featureView:monitoring:false'), paths.join(' '));
  assert.ok(paths.includes('featureService:monitoring:false'), paths.join(' '));
  assert.ok(plan.changes.every((c) => !c.breaksConsumers));
});

test('states: warn halfway to the objective, alert past it', () => {
  assert.equal(stateOf({ kind: 'max', value: 0.05, objective: 0.2 }), 'ok');
  assert.equal(stateOf({ kind: 'max', value: 0.15, objective: 0.2 }), 'warn');
  assert.equal(stateOf({ kind: 'max', value: 0.21, objective: 0.2 }), 'alert');
  assert.equal(stateOf({ kind: 'min', value: 0.99, objective: 0.95 }), 'ok');
  assert.equal(stateOf({ kind: 'min', value: 0.96, objective: 0.95 }), 'warn');
  assert.equal(stateOf({ kind: 'min', value: 0.9, objective: 0.95 }), 'alert');
  assert.equal(stateOf({ kind: 'max', value: 100, objective: 200, warnAt: 50 }), 'warn');
});
