import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { featureService } from '../../definitions/feature-service.ts';
import type { FeatureViewSpec } from '../../definitions/spec.ts';
import { BreakingChangeError } from '../../stores/registry/breaking-change-error.ts';
import type { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { BASE_FEATURES, newPool, openRegistry, repoOf, spendRepo, spendView, uniqueProject, withFeatures } from './registry-fixtures.ts';

const pool = newPool();
const opened: PostgresRegistry[] = [];
after(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await pool.end();
});

async function registry(project: string): Promise<PostgresRegistry> {
  const r = await openRegistry(project);
  opened.push(r);
  return r;
}

async function countRows(table: string, project: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE project = $1`, [project]);
  return Number(rows[0]!.n);
}

test('apply registers every object; re-applying the same repo is a no-op', async () => {
  const project = uniqueProject('apply');
  const r = await registry(project);
  const first = await r.apply(spendRepo());
  assert.equal(first.changes.length, 4);
  assert.ok(first.changes.every((c) => c.action === 'add'));

  const again = await r.apply(spendRepo());
  assert.deepEqual(again, { project, changes: [], breaking: false, services: [], breaksConsumers: false });
  assert.deepEqual((await r.plan(spendRepo())).changes, []);

  const objects = await r.listObjects();
  assert.deepEqual(
    objects.map((o) => [o.kind, o.name, o.version, o.schemaVersion, o.status]),
    [
      ['entity', 'user', 1, 1, 'active'],
      ['source', 'transactions', 1, 1, 'active'],
      ['featureView', 'user_spend', 1, 1, 'active'],
      ['featureService', 'fraud_model', 1, 1, 'active'],
    ],
  );
  assert.deepEqual((await r.listObjects('featureView')).map((o) => o.name), ['user_spend']);
  const view = await r.getObject('featureView', 'user_spend');
  assert.equal(view?.spec.features.length, 2);
  assert.match(view?.contentHash ?? '', /^[0-9a-f]{64}$/);
  assert.ok(view?.appliedAt instanceof Date);
  assert.equal((await r.history('featureView', 'user_spend')).length, 1);
  assert.equal(await countRows('granary_object_history', project), 4);
});

test('a breaking change is refused, naming the field and what to do, and nothing is written', async () => {
  const project = uniqueProject('breaking');
  const r = await registry(project);
  await r.apply(spendRepo());
  const before = await r.listObjects();
  // An additive change (owner) rides along with the breaking one: neither is written.
  const retyped = spendView({ owner: 'someone@example.com', schema: [{ name: 'spend_7d_avg', type: 'float64' }, BASE_FEATURES[1]!] });
  await assert.rejects(r.apply(spendRepo(retyped)), (error: unknown) => {
    assert.ok(error instanceof BreakingChangeError);
    assert.match(error.message, /feature view 'user_spend' version 1, field 'features\.spend_7d_avg\.type'/);
    assert.match(error.message, /create feature view 'user_spend' version 2 beside version 1/);
    assert.equal(error.plan.breaking, true);
    return true;
  });
  assert.deepEqual(await r.listObjects(), before);
  assert.equal(await countRows('granary_object_history', project), 4);
});

test('an additive change bumps the schema version in place and keeps the history', async () => {
  const project = uniqueProject('additive');
  const r = await registry(project);
  await r.apply(spendRepo());
  const wider = spendView(withFeatures(...BASE_FEATURES, { name: 'spend_30d_avg', type: 'float32' }));
  const plan = await r.apply(spendRepo(wider));
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.kind}`), ['update featureView']);

  const view = await r.getObject('featureView', 'user_spend');
  assert.equal(view?.schemaVersion, 2);
  assert.deepEqual(view?.spec.features.map((f) => f.name), ['spend_7d_avg', 'txn_count_7d', 'spend_30d_avg']);
  const history = await r.history('featureView', 'user_spend');
  const featureCounts = history.map((h) => (h.spec as FeatureViewSpec).features.length);
  assert.deepEqual(history.map((h) => [h.schemaVersion, h.status]), [[1, 'active'], [2, 'active']]);
  assert.deepEqual(featureCounts, [2, 3]);
  assert.notEqual(history[0]!.contentHash, history[1]!.contentHash);
  assert.ok(history[0]!.appliedAt <= history[1]!.appliedAt);
  // Other objects are untouched.
  assert.equal((await r.getObject('entity', 'user'))?.schemaVersion, 1);
  assert.deepEqual((await r.apply(spendRepo(wider))).changes, []);
});

test('objects left out of the repo are marked removed, history kept; re-adding brings them back', async () => {
  const project = uniqueProject('remove');
  const r = await registry(project);
  const view = spendView();
  await r.apply(spendRepo(view));
  const withoutService = repoOf(view);
  const plan = await r.apply(withoutService);
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.kind}`), ['remove featureService']);
  assert.deepEqual((await r.listObjects('featureService')).length, 0);
  const removed = await r.listObjects('featureService', { includeRemoved: true });
  assert.deepEqual(removed.map((o) => [o.name, o.status]), [['fraud_model', 'removed']]);
  assert.equal((await r.getObject('featureService', 'fraud_model'))?.status, 'removed');
  assert.deepEqual((await r.apply(withoutService)).changes, []);

  const readded = await r.apply(repoOf(view, featureService({ name: 'fraud_model', features: ['user_spend:spend_7d_avg'] })));
  assert.deepEqual(readded.changes.map((c) => [c.action, c.fields.map((f) => f.path)]), [['add', ['items']]]);
  const service = await r.getObject('featureService', 'fraud_model');
  assert.deepEqual([service?.status, service?.schemaVersion], ['active', 2]);
  const history = await r.history('featureService', 'fraud_model');
  assert.deepEqual(history.map((h) => [h.status, h.schemaVersion]), [['active', 1], ['removed', 1], ['active', 2]]);
});

test('a new view version is registered beside the old one', async () => {
  const project = uniqueProject('versions');
  const r = await registry(project);
  await r.apply(spendRepo());
  const v2 = spendView({ version: 2, schema: [{ name: 'spend_7d_avg', type: 'float64' }] });
  const plan = await r.apply(repoOf(spendView(), v2, featureService({ name: 'fraud_model', features: [spendView()] })));
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.kind}@${c.version}`), ['add featureView@2']);
  assert.equal((await r.getObject('featureView', 'user_spend'))?.version, 2);
  assert.equal((await r.getObject('featureView', 'user_spend', 1))?.spec.features[0]?.type, 'float32');
  assert.equal((await r.getObject('featureView', 'user_spend', 3)), undefined);
  assert.deepEqual((await r.history('featureView', 'user_spend')).map((h) => h.version), [1, 2]);

  // Dropping version 2 again: the highest version not removed is 1 again.
  await r.apply(spendRepo());
  assert.equal((await r.getObject('featureView', 'user_spend'))?.version, 1);
  assert.equal((await r.getObject('featureView', 'user_spend', 2))?.status, 'removed');
});

test('concurrent applies of the same repo from two registries: one writes, the rest find nothing to do', async () => {
  const project = uniqueProject('concurrent');
  const [a, b] = await Promise.all([registry(project), registry(project)]);
  const plans = await Promise.all([a, b, a, b, a, b].map((r) => r.apply(spendRepo())));
  assert.deepEqual(plans.map((p) => p.changes.length).sort(), [0, 0, 0, 0, 0, 4]);
  assert.equal(await countRows('granary_objects', project), 4);
  assert.equal(await countRows('granary_object_history', project), 4);
});

test('concurrent conflicting applies are serialized: the second sees the first and is refused', async () => {
  const project = uniqueProject('conflict');
  const [a, b] = await Promise.all([registry(project), registry(project)]);
  await a.apply(spendRepo());
  const withX = spendRepo(spendView(withFeatures(...BASE_FEATURES, { name: 'x', type: 'int64' })));
  const withY = spendRepo(spendView(withFeatures(...BASE_FEATURES, { name: 'y', type: 'int64' })));
  const results = await Promise.allSettled([a.apply(withX), b.apply(withY)]);
  const applied = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(applied.length, 1);
  assert.equal(refused.length, 1);
  assert.ok(refused[0]!.reason instanceof BreakingChangeError);
  const history = await a.history('featureView', 'user_spend');
  assert.deepEqual(history.map((h) => h.schemaVersion), [1, 2]);
  assert.equal((await a.getObject('featureView', 'user_spend'))?.schemaVersion, 2);
});

test('projects are isolated', async () => {
  const [p1, p2] = [uniqueProject('iso'), uniqueProject('iso')];
  const [a, b] = await Promise.all([registry(p1), registry(p2)]);
  await a.apply(spendRepo());
  assert.deepEqual(await b.listObjects(), []);
  assert.equal((await b.plan(spendRepo())).changes.length, 4);
});
