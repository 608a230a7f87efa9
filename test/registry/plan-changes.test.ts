import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entity } from '../../definitions/entity.ts';
import { featureService } from '../../definitions/feature-service.ts';
import { planChanges, type RegisteredState } from '../../stores/registry/plan-changes.ts';
import type { FieldChange, ObjectChange, Plan } from '../../stores/registry/registry.ts';
import { customer, registeredFrom, repoOf, spendRepo, spendView, transactions, user, withFeatures } from './registry-fixtures.ts';

const base = spendRepo();
const registered = registeredFrom(base);

function viewChange(plan: Plan, version = 1): ObjectChange {
  const change = plan.changes.find((c) => c.kind === 'featureView' && c.version === version);
  assert.ok(change, `no change to the view version ${version} in ${JSON.stringify(plan.changes)}`);
  return change;
}

function field(change: ObjectChange, path: string): FieldChange {
  const found = change.fields.find((f) => f.path === path);
  assert.ok(found, `no change at '${path}' in ${JSON.stringify(change.fields.map((f) => f.path))}`);
  return found;
}

test('an empty registry: every object is an add, entities and sources first', () => {
  const plan = planChanges('p', [], base);
  assert.deepEqual(
    plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}@${c.version}`),
    ['add entity user@1', 'add source transactions@1', 'add featureView user_spend@1', 'add featureService fraud_model@1'],
  );
  assert.equal(plan.breaking, false);
  assert.equal(plan.project, 'p');
});

test('an unchanged repo plans nothing', () => {
  assert.deepEqual(planChanges('p', registered, spendRepo()).changes, []);
});

test('additive: a new nullable feature', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures(...baseFeatures(), { name: 'spend_30d_avg', type: 'float64' }))));
  const change = viewChange(plan);
  assert.equal(change.action, 'update');
  const added = field(change, 'features.spend_30d_avg');
  assert.equal(added.before, undefined);
  assert.equal((added.after as { type: string }).type, 'float64');
  assert.equal(added.breaking, false);
  assert.equal(plan.breaking, false);
});

test('additive: description, owner, tags, ttl, online flag, feature descriptions', () => {
  const view = spendView({
    description: 'Spend per user, daily.',
    owner: 'risk@example.com',
    tags: { team: 'risk', tier: 'gold' },
    ttl: '2d',
    online: false,
    schema: [{ name: 'spend_7d_avg', type: 'float32', description: 'Mean daily spend.' }, baseFeatures()[1]!],
  });
  const change = viewChange(planChanges('p', registered, spendRepo(view)));
  assert.deepEqual(
    change.fields.map((f) => [f.path, f.breaking]).sort(),
    [
      ['features.spend_7d_avg.description', false],
      ['ttlSeconds', false],
      ['online', false],
      ['owner', false],
      ['description', false],
      ['tags.team', false],
      ['tags.tier', false],
    ].sort(),
  );
  assert.deepEqual([field(change, 'ttlSeconds').before, field(change, 'ttlSeconds').after], [86_400, 172_800]);
});

test("additive: a service's feature list changing", () => {
  const view = spendView();
  const repo = repoOf(view, featureService({ name: 'fraud_model', features: ['user_spend:txn_count_7d'] }));
  const plan = planChanges('p', registered, repo);
  assert.equal(plan.changes.length, 1);
  const change = plan.changes[0]!;
  assert.equal(change.kind, 'featureService');
  assert.equal(field(change, 'items').breaking, false);
});

test('additive: a nullable feature made non-nullable is breaking, the reverse is not', () => {
  const strict = planChanges('p', registered, spendRepo(spendView(withFeatures({ name: 'spend_7d_avg', type: 'float32', nullable: false }, baseFeatures()[1]!))));
  const tightened = field(viewChange(strict), 'features.spend_7d_avg.nullable');
  assert.equal(tightened.breaking, true);
  assert.match(tightened.reason ?? '', /non-nullable.*create feature view 'user_spend' version 2 beside version 1/);

  const loose = planChanges('p', registered, spendRepo(spendView(withFeatures(baseFeatures()[0]!, { name: 'txn_count_7d', type: 'int64' }))));
  assert.equal(field(viewChange(loose), 'features.txn_count_7d.nullable').breaking, false);
  assert.equal(loose.breaking, false);
});

test('breaking: a feature removed, with what to do', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures(baseFeatures()[0]!))));
  const removed = field(viewChange(plan), 'features.txn_count_7d');
  assert.equal(removed.after, undefined);
  assert.equal(removed.breaking, true);
  assert.equal(removed.reason, "feature 'txn_count_7d' is removed; create feature view 'user_spend' version 2 beside version 1");
  assert.equal(plan.breaking, true);
  assert.equal(viewChange(plan).breaking, true);
});

test('breaking: a removed feature plus an added one of the same type reads as a rename', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures({ name: 'spend_week_avg', type: 'float32' }, baseFeatures()[1]!))));
  const change = viewChange(plan);
  assert.match(field(change, 'features.spend_7d_avg').reason ?? '', /removed \(renamed to 'spend_week_avg'\?\)/);
  assert.match(field(change, 'features.spend_week_avg').reason ?? '', /renamed from 'spend_7d_avg'\?/);
  assert.equal(plan.breaking, true);
});

test('breaking: a feature retyped', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures({ name: 'spend_7d_avg', type: 'float64' }, baseFeatures()[1]!))));
  const retyped = field(viewChange(plan), 'features.spend_7d_avg.type');
  assert.deepEqual([retyped.before, retyped.after, retyped.breaking], ['float32', 'float64', true]);
  assert.match(retyped.reason ?? '', /changes type from float32 to float64; create feature view 'user_spend' version 2 beside version 1/);
});

test('breaking: a new non-nullable feature', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures(...baseFeatures(), { name: 'risk', type: 'int32', nullable: false }))));
  const added = field(viewChange(plan), 'features.risk');
  assert.equal(added.breaking, true);
  assert.match(added.reason ?? '', /not nullable/);
});

test("breaking: the view's entities change", () => {
  const plan = planChanges('p', registered, spendRepo(spendView({ entities: [customer] })));
  const change = viewChange(plan);
  assert.ok(change.fields.length > 0);
  assert.ok(change.fields.every((f) => f.path.startsWith('entities') && f.breaking));
  assert.ok(change.fields.some((f) => f.path === 'entities.customer'));
});

test("breaking: the event or created timestamp column changes (on the view and on the source it uses)", () => {
  const source = transactions({ eventTimestampColumn: 'ts' });
  const plan = planChanges('p', registered, spendRepo(spendView({ source })));
  assert.equal(field(viewChange(plan), 'eventTimestampColumn').breaking, true);
  const sourceChange = plan.changes.find((c) => c.kind === 'source')!;
  const column = field(sourceChange, 'eventTimestampColumn');
  assert.equal(column.breaking, true);
  assert.match(column.reason ?? '', /while feature view 'user_spend' version 1 uses it.*version 2 beside version 1/);

  const created = planChanges('p', registered, spendRepo(spendView({ source: transactions({ createdTimestampColumn: 'loaded_at' }) })));
  assert.equal(field(viewChange(created), 'createdTimestampColumn').breaking, true);
});

test("an entity's join key change is breaking while a view uses it, additive otherwise", () => {
  const renamedKey = entity({ name: 'user', joinKey: 'uid', valueType: 'string' });
  const used = planChanges('p', registered, spendRepo(spendView({ entities: [renamedKey] })));
  const entityChange = used.changes.find((c) => c.kind === 'entity')!;
  assert.equal(field(entityChange, 'joinKey').breaking, true);
  assert.match(field(entityChange, 'joinKey').reason ?? '', /define a new entity and create feature view 'user_spend' version 2 beside version 1/);

  // An entity registered on its own, no view using it: its type may change.
  const alone = registeredFrom(repoOf(customer));
  const retyped = entity({ name: 'customer', joinKey: 'customer_id', valueType: 'string' });
  const plan = planChanges('p', alone, repoOf(retyped));
  assert.equal(field(plan.changes[0]!, 'valueType').breaking, false);
  assert.equal(plan.breaking, false);
});

test('a new view version is an add beside the old one; the old one left out of the repo is a remove', () => {
  const v2 = spendView({ version: 2, schema: [{ name: 'spend_7d_avg', type: 'float64' }] });
  const both = planChanges('p', registered, repoOf(spendView(), v2, featureService({ name: 'fraud_model', features: [spendView()] })));
  assert.deepEqual(
    both.changes.map((c) => `${c.action} ${c.kind}@${c.version}`),
    ['add featureView@2'],
  );
  assert.deepEqual(viewChange(both, 2).fields, []);

  const onlyV2 = planChanges('p', registered, repoOf(v2, featureService({ name: 'fraud_model', features: [v2] })));
  assert.deepEqual(
    onlyV2.changes.map((c) => `${c.action} ${c.kind}@${c.version}`),
    ['remove featureView@1', 'add featureView@2', 'update featureService@1'],
  );
  assert.equal(onlyV2.breaking, false);
});

test('the suggested version is the first free one', () => {
  const withV2: RegisteredState[] = [...registered, ...registeredFrom(repoOf(spendView({ version: 2 })))];
  const plan = planChanges('p', withV2, repoOf(spendView(withFeatures(baseFeatures()[0]!)), spendView({ version: 2 })));
  assert.match(field(viewChange(plan), 'features.txn_count_7d').reason ?? '', /version 3 beside version 1/);
});

test('objects no longer in the repo are removes; removed ones are not removed again', () => {
  const plan = planChanges('p', registered, repoOf(user));
  assert.deepEqual(
    plan.changes.map((c) => `${c.action} ${c.kind}`),
    ['remove source', 'remove featureView', 'remove featureService'],
  );
  const afterRemoval = registered.map((r) => (r.kind === 'entity' ? r : { ...r, status: 'removed' as const }));
  assert.deepEqual(planChanges('p', afterRemoval, repoOf(user)).changes, []);
});

test('re-adding a removed object is an add, diffed against its last state (breaking changes still caught)', () => {
  const removed = registered.map((r) => ({ ...r, status: 'removed' as const }));
  const same = planChanges('p', removed, spendRepo());
  assert.ok(same.changes.every((c) => c.action === 'add' && c.fields.length === 0));

  const retyped = planChanges('p', removed, spendRepo(spendView(withFeatures({ name: 'spend_7d_avg', type: 'float64' }, baseFeatures()[1]!))));
  const change = viewChange(retyped);
  assert.equal(change.action, 'add');
  assert.equal(field(change, 'features.spend_7d_avg.type').breaking, true);
});

test('a reordered schema is additive, with a note', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures(baseFeatures()[1]!, baseFeatures()[0]!))));
  const order = field(viewChange(plan), 'features');
  assert.equal(order.breaking, false);
  assert.deepEqual(order.after, ['txn_count_7d', 'spend_7d_avg']);
  assert.match(order.reason ?? '', /order/);
});

function baseFeatures() {
  return [
    { name: 'spend_7d_avg', type: 'float32' as const },
    { name: 'txn_count_7d', type: 'int64' as const, nullable: false },
  ];
}
