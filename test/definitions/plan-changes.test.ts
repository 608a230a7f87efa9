// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPlan } from '../../cli/format-plan.ts';
import { entity } from '../../definitions/entity.ts';
import { featureService } from '../../definitions/feature-service.ts';
import { planChanges, type RegisteredState } from '../../definitions/changes/plan-changes.ts';
import type { FieldChange, ObjectChange, Plan } from '../../definitions/changes/plan.ts';
import { customer, registeredFrom, repoOf, spendRepo, spendView, transactions, user, withFeatures } from '../registry/registry-fixtures.ts';

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

// What a plan does to the consumers of feature services (issue 12, item 12): each served service
// resolved before and after, as serving resolves it; what changes its columns or served values is
// marked BREAKS CONSUMERS (apply accepts it), and plan exits 4 for it (cli/commands/plan.ts).

test('consumers: a new nullable feature in a view a service lists whole adds a column to it', () => {
  const plan = planChanges('p', registered, spendRepo(spendView(withFeatures(...baseFeatures(), { name: 'spend_30d_avg', type: 'float64' }))));
  assert.equal(plan.breaking, false, 'apply accepts it');
  assert.equal(plan.breaksConsumers, true);
  const added = field(viewChange(plan), 'features.spend_30d_avg');
  assert.deepEqual([added.breaking, added.breaksConsumers], [false, true]);
  assert.match(added.reason ?? '', /adds a column to feature service 'fraud_model', which lists the whole view; to keep a service as it is, list its features explicitly/);
  assert.equal(viewChange(plan).breaksConsumers, true);

  assert.equal(plan.services.length, 1);
  const [effect] = plan.services;
  assert.deepEqual(
    [effect!.service, effect!.action, effect!.breaking, effect!.columnsBefore, effect!.columnsAfter],
    [
      'fraud_model',
      'changed',
      true,
      ['user_id', 'user_spend:spend_7d_avg', 'user_spend:txn_count_7d'],
      ['user_id', 'user_spend:spend_7d_avg', 'user_spend:txn_count_7d', 'user_spend:spend_30d_avg'],
    ],
  );
  assert.deepEqual(effect!.details.map((d) => d.text), ["+ column 'user_spend:spend_30d_avg' (float64), 4th of 4"]);

  const text = formatPlan(plan);
  assert.match(text[0]!, /\(1 feature service changes what it serves\)$/);
  assert.ok(text.includes("~ update feature view 'user_spend' version 1  BREAKS CONSUMERS"), text.join('\n'));
  assert.ok(text.includes('    BREAKS CONSUMERS  features.spend_30d_avg: (none) -> float64'), text.join('\n'));
  const services = text.slice(text.indexOf('Feature services (what the models reading them see):'));
  assert.deepEqual(services, [
    'Feature services (what the models reading them see):',
    '! fraud_model: 3 columns -> 4  BREAKS CONSUMERS',
    "    + column 'user_spend:spend_30d_avg' (float64), 4th of 4",
    '    columns now: user_id, user_spend:spend_7d_avg, user_spend:txn_count_7d, user_spend:spend_30d_avg',
  ]);
});

test('consumers: a service that lists its features explicitly is untouched by a new feature (additive, nothing to show)', () => {
  const explicit = (view: ReturnType<typeof spendView>) =>
    repoOf(view, featureService({ name: 'fraud_model', features: [{ view, features: ['spend_7d_avg', 'txn_count_7d'] }] }));
  const before = registeredFrom(explicit(spendView()));
  const plan = planChanges('p', before, explicit(spendView(withFeatures(...baseFeatures(), { name: 'spend_30d_avg', type: 'float64' }))));
  assert.equal(plan.breaksConsumers, false);
  assert.deepEqual(plan.services, []);
  const added = field(viewChange(plan), 'features.spend_30d_avg');
  assert.equal(added.breaksConsumers, undefined);
  assert.ok(!formatPlan(plan).some((line) => line.includes('Feature services')));
});

test('consumers: removing a served feature service breaks its consumers; removing one never served does not', () => {
  const plan = planChanges('p', registered, repoOf(spendView()));
  assert.equal(plan.breaking, false);
  assert.equal(plan.breaksConsumers, true);
  const removal = plan.changes.find((c) => c.kind === 'featureService')!;
  assert.deepEqual([removal.action, removal.breaksConsumers], ['remove', true]);
  assert.deepEqual(
    plan.services.map((e) => [e.service, e.action, e.breaking, e.columnsAfter.length]),
    [['fraud_model', 'removed', true, 0]],
  );
  const text = formatPlan(plan);
  assert.ok(text.includes("- remove feature service 'fraud_model'  BREAKS CONSUMERS"), text.join('\n'));
  assert.ok(text.includes('! fraud_model: removed (served 3 columns)  BREAKS CONSUMERS'), text.join('\n'));
  assert.ok(text.includes('    requests naming it fail (unknown feature service): move the models reading it to another service first'));

  // A service registered over a view that is not online was never served: nobody reads it.
  const offline = spendView({ online: false });
  const unserved = planChanges('p', registeredFrom(repoOf(offline, featureService({ name: 'fraud_model', features: [offline] }))), repoOf(offline));
  assert.equal(unserved.breaksConsumers, false);
  assert.deepEqual(unserved.services, []);
});

test("consumers: removing or changing a service's defaults breaks them (nulls or other values served); adding one does not", () => {
  const withDefault = (value?: bigint) =>
    value === undefined
      ? spendRepo()
      : repoOf(spendView(), featureService({ name: 'fraud_model', features: [spendView()], defaults: { 'user_spend:txn_count_7d': value } }));
  const withZero = registeredFrom(withDefault(0n));

  const removed = planChanges('p', withZero, withDefault());
  assert.equal(removed.breaking, false);
  assert.equal(removed.breaksConsumers, true);
  const change = removed.changes[0]!;
  assert.equal(change.breaksConsumers, true);
  const defaults = field(change, 'defaults');
  assert.deepEqual([defaults.breaking, defaults.breaksConsumers], [false, true]);
  assert.equal(defaults.reason, "default of 'user_spend:txn_count_7d' removed: NOT_FOUND and OUTSIDE_MAX_AGE values served as null instead of 0");
  assert.ok(formatPlan(removed).includes('    BREAKS CONSUMERS  defaults: {"user_spend:txn_count_7d":"0"} -> (none)'));
  assert.deepEqual(removed.services.map((e) => [e.service, e.breaking, e.columnsBefore.length === e.columnsAfter.length]), [['fraud_model', true, true]]);

  const changed = planChanges('p', withZero, withDefault(-1n));
  assert.equal(changed.breaksConsumers, true);
  assert.match(field(changed.changes[0]!, 'defaults.user_spend:txn_count_7d').reason ?? '', /served as -1 instead of 0/);

  const added = planChanges('p', registered, withDefault(0n));
  assert.equal(added.breaksConsumers, false);
  assert.equal(field(added.changes[0]!, 'defaults').breaksConsumers, undefined);
  assert.deepEqual(
    added.services.map((e) => [e.service, e.breaking, e.details.map((d) => d.kind)]),
    [['fraud_model', false, ['default-added']]],
    'shown, not breaking',
  );
  assert.ok(formatPlan(added).includes('~ fraud_model: 3 columns -> 3'));
});

test("consumers: a service's feature list or a view's feature order changing moves its columns", () => {
  const view = spendView();
  const fewer = planChanges('p', registered, repoOf(view, featureService({ name: 'fraud_model', features: ['user_spend:txn_count_7d'] })));
  assert.equal(fewer.breaksConsumers, true);
  const items = field(fewer.changes[0]!, 'items');
  assert.deepEqual([items.breaking, items.breaksConsumers], [false, true]);
  assert.match(items.reason ?? '', /changes the columns models read from feature service 'fraud_model': - column 'user_spend:spend_7d_avg' \(float32\)/);

  // The same columns written another way: no effect, nothing breaks.
  const same = planChanges('p', registered, repoOf(view, featureService({ name: 'fraud_model', features: ['user_spend:spend_7d_avg', 'user_spend:txn_count_7d'] })));
  assert.equal(field(same.changes[0]!, 'items').breaksConsumers, undefined);
  assert.equal(same.breaksConsumers, false);
  assert.deepEqual(same.services, []);

  const reordered = planChanges('p', registered, spendRepo(spendView(withFeatures(baseFeatures()[1]!, baseFeatures()[0]!))));
  const order = field(viewChange(reordered), 'features');
  assert.deepEqual([order.breaking, order.breaksConsumers], [false, true]);
  assert.match(order.reason ?? '', /reorders the columns of feature service 'fraud_model'/);
  assert.deepEqual(reordered.services[0]!.details.map((d) => d.kind), ['columns-reordered']);
});

test('consumers: a new active view version moves unpinned services to it; one declared with migrateFrom does not until its migration switches', () => {
  // 'user_spend' unpinned: the view's current version (a view object would pin its version).
  const unpinned = (...views: ReturnType<typeof spendView>[]) => repoOf(...views, featureService({ name: 'fraud_model', features: ['user_spend'] }));
  const before = registeredFrom(unpinned(spendView()));
  const v2 = spendView({ version: 2 });
  const plan = planChanges('p', before, unpinned(spendView(), v2));
  assert.equal(plan.breaking, false);
  assert.equal(plan.breaksConsumers, true);
  assert.equal(viewChange(plan, 2).breaksConsumers, true);
  assert.deepEqual(plan.services[0]!.details.map((d) => d.text), [
    "column 'user_spend:spend_7d_avg' is read from feature view 'user_spend' version 2 instead of 1",
    "column 'user_spend:txn_count_7d' is read from feature view 'user_spend' version 2 instead of 1",
  ]);

  const migrated = spendView({ version: 2, migrateFrom: { version: 1 } });
  const quiet = planChanges('p', before, unpinned(spendView(), migrated));
  assert.equal(quiet.breaksConsumers, false);
  assert.deepEqual(quiet.services, []);
});

test('consumers: a view turned offline makes the services reading it unservable', () => {
  const plan = planChanges('p', registered, spendRepo(spendView({ online: false })));
  assert.equal(plan.breaking, false);
  assert.equal(plan.breaksConsumers, true);
  const online = field(viewChange(plan), 'online');
  assert.deepEqual([online.breaksConsumers, online.reason], [true, "feature service 'fraud_model' can no longer be served"]);
  assert.deepEqual(plan.services[0]!.details.map((d) => d.text), ["can no longer be served: feature view 'user_spend' version 1 is not online"]);
});

test('consumers: the JSON plan carries the effects', () => {
  const plan = planChanges('p', registered, repoOf(spendView()));
  const json = JSON.parse(JSON.stringify(plan));
  assert.deepEqual(Object.keys(json).sort(), ['breaking', 'breaksConsumers', 'changes', 'project', 'services']);
  assert.equal(json.services[0].service, 'fraud_model');
});

function baseFeatures() {
  return [
    { name: 'spend_7d_avg', type: 'float32' as const },
    { name: 'txn_count_7d', type: 'int64' as const, nullable: false },
  ];
}
