// granary-test: no-stack
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatPlan } from '../../cli/format-plan.ts';
import {
  DefinitionError,
  buildFeatureRepo,
  defaultFromJson,
  entity,
  featureService,
  featureView,
  loadFeatureRepo,
  parquetSource,
  specOf,
  type FeatureRepo,
  type FeatureService,
  type FeatureServiceSpec,
} from '../../definitions/index.ts';
import { desiredObjects, planChanges, type RegisteredState } from '../../definitions/changes/plan-changes.ts';
import { tempDir } from '../support/temp-dir.ts';

/** A feature service's `defaults`: checked at definition load, stored in the spec; in plan, removing or changing one breaks the service's consumers. */

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const source = parquetSource({ name: 'tx', path: 'data/tx' });
const every = featureView({
  name: 'every',
  entities: [user],
  source,
  schema: [
    { name: 'b', type: 'bool' },
    { name: 'i32', type: 'int32' },
    { name: 'i64', type: 'int64' },
    { name: 'f32', type: 'float32' },
    { name: 'f64', type: 'float64' },
    { name: 's', type: 'string' },
    { name: 'bytes', type: 'bytes' },
    { name: 'ts', type: 'timestamp' },
    { name: 'ints', type: 'list<int64>' },
    { name: 'floats', type: 'list<float64>' },
  ],
  ttl: '1d',
});

function repoWith(...services: FeatureService[]): FeatureRepo {
  return buildFeatureRepo('.', [{ definition: every }, ...services.map((definition) => ({ definition, file: 'services.ts' }))]);
}

function throwsAt(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DefinitionError, `expected a DefinitionError, got ${String(error)}`);
    assert.match(error.message, expected);
    return true;
  });
}

test('defaults of every type are accepted, stored as JSON in the spec and served back in their canonical form', () => {
  const service = featureService({
    name: 'svc',
    features: [every],
    defaults: {
      'every:b': false,
      'every:i32': -7,
      'every:i64': 2n ** 60n,
      'every:f32': 0.1,
      'every:f64': Number.NaN,
      'every:s': 'unknown',
      'every:bytes': new Uint8Array([0, 255]),
      'every:ts': new Date(Date.UTC(2025, 0, 1)),
      'every:ints': [1n, null, 3],
      'every:floats': [-0, Number.POSITIVE_INFINITY],
    },
  });
  repoWith(service);
  const spec = specOf(service);
  // JSON only: what the registry stores must survive JSON.stringify (bigints would not).
  const stored = JSON.parse(JSON.stringify(spec)) as FeatureServiceSpec;
  assert.deepEqual(stored.defaults, {
    'every:b': false,
    'every:bytes': 'AP8=',
    'every:f32': 0.1,
    'every:f64': 'NaN',
    'every:floats': ['-0', 'Infinity'],
    'every:i32': -7,
    'every:i64': String(2n ** 60n),
    'every:ints': ['1', null, 3],
    'every:s': 'unknown',
    'every:ts': Date.UTC(2025, 0, 1),
  });
  const served = Object.fromEntries(every.features.map((f) => [f.name, defaultFromJson(stored.defaults![`every:${f.name}`], f.type)]));
  assert.deepEqual(served, {
    b: false,
    i32: -7,
    i64: 2n ** 60n,
    f32: Math.fround(0.1),
    f64: Number.NaN,
    s: 'unknown',
    bytes: new Uint8Array([0, 255]),
    ts: Date.UTC(2025, 0, 1),
    ints: [1n, null, 3n],
    floats: [-0, Number.POSITIVE_INFINITY],
  });
  assert.ok(Object.is((served.floats as number[])[0], -0));
  // A JSON value that does not fit the type is not served.
  assert.equal(defaultFromJson('7', 'int32'), undefined);
  assert.equal(defaultFromJson('1.5', 'int64'), undefined);
  assert.equal(defaultFromJson([1, 'x'], 'list<int64>'), undefined);
});

test('a service without defaults is fail-closed and keeps the spec it had before defaults existed', () => {
  const service = featureService({ name: 'svc', features: [every] });
  assert.deepEqual(service.defaults, {});
  assert.ok(!('defaults' in specOf(service)), 'no defaults key: the content hash of existing services does not change');
  assert.ok(Object.isFrozen(featureService({ name: 'svc', features: [every], defaults: { 'every:i32': 0 } }).defaults));
});

test('a default of the wrong type is refused when the repo is built, naming the service, the feature, the type and the value', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ 'every:i64': '5' }, /services\.ts, feature service 'svc', field 'defaults\.every:i64': the default of feature 'every:i64' does not fit its declared type: expected int64 \(a bigint or a safe-integer number\), got string '5'/],
    [{ 'every:i32': 1.5 }, /feature service 'svc'.*'every:i32'.*expected int32 .*got number 1\.5/],
    [{ 'every:i32': 2 ** 40 }, /expected int32/],
    [{ 'every:i64': 2 ** 60 }, /expected int64 .*got number/],
    [{ 'every:s': 0 }, /feature service 'svc'.*'every:s'.*expected string, got number 0/],
    [{ 'every:b': 'false' }, /expected bool \(true or false\), got string 'false'/],
    [{ 'every:bytes': 'AP8=' }, /expected bytes \(a Uint8Array\), got string 'AP8='/],
    [{ 'every:ts': '2025-01-01' }, /expected timestamp \(a Date or ms since epoch\), got string '2025-01-01'/],
    [{ 'every:ints': 3n }, /expected list<int64> \(a list of int64 .* or null\), got bigint 3n/],
    [{ 'every:ints': [1n, 'two'] }, /expected list<int64>: list item 1 must be int64 .*got string 'two'/],
    [{ 'every:f64': [1] }, /expected float64 \(a number\), got a list of 1/],
  ];
  for (const [defaults, expected] of cases) {
    throwsAt(() => repoWith(featureService({ name: 'svc', features: [every], defaults: defaults as never })), expected);
  }
});

test('the type is the one of the view the service resolves to: the highest version when unpinned', () => {
  const v2 = featureView({ name: 'every', version: 2, entities: [user], source, schema: [{ name: 'i64', type: 'string' }], ttl: '1d' });
  const unpinned = featureService({ name: 'svc', features: ['every:i64'], defaults: { 'every:i64': 0n } });
  throwsAt(
    () => buildFeatureRepo('.', [{ definition: every }, { definition: v2 }, { definition: unpinned }]),
    /feature service 'svc', field 'defaults\.every:i64'.*expected string, got bigint 0n/,
  );
  const pinned = featureService({ name: 'svc', features: ['every@1:i64'], defaults: { 'every:i64': 0n } });
  buildFeatureRepo('.', [{ definition: every }, { definition: v2 }, { definition: pinned }]);
});

test('a default for a feature the service does not serve is refused, naming the service, the field and the key', () => {
  throwsAt(
    () => repoWith(featureService({ name: 'svc', features: ['every:i32', 'every:s'], defaults: { 'every:i64': 0n } })),
    /services\.ts, feature service 'svc', field 'defaults': 'every:i64' is not a feature of this service \(it serves: every:i32, every:s\)/,
  );
  throwsAt(
    () => repoWith(featureService({ name: 'svc', features: [every], defaults: { 'other:x': 1 } })),
    /field 'defaults': 'other:x' is not a feature of this service/,
  );
  // A whole-view item serves every feature of the view: any of them may have a default.
  repoWith(featureService({ name: 'svc', features: [every], defaults: { 'every:floats': [] } }));
});

test('the shape of defaults is checked when the service is defined', () => {
  const make = (defaults: unknown) => () => featureService({ name: 'svc', features: [every], defaults: defaults as never });
  throwsAt(make([0]), /feature service 'svc', field 'defaults': must be an object of default values keyed 'view:feature'/);
  throwsAt(make('0'), /field 'defaults': must be an object/);
  throwsAt(make({ i64: 0 }), /field 'defaults': key 'i64' is not of the form 'view:feature'/);
  throwsAt(make({ 'every@1:i64': 0 }), /key 'every@1:i64' is not of the form 'view:feature' \(without a version\)/);
  throwsAt(make({ 'every:i64': null }), /field 'defaults': 'every:i64': a default cannot be null; leave the feature out of defaults/);
  throwsAt(make({ 'every:i64': { value: 0 } }), /'every:i64': must be a boolean, number, bigint, string, Uint8Array, Date or a list of them, got an object/);
  throwsAt(make({ 'every:ints': [[1]] }), /'every:ints': list item 0 must be/);
  throwsAt(make({ 'every:ts': new Date('nope') }), /'every:ts': must be .*got Date Invalid Date/);
  throwsAt(() => featureService({ name: 'svc', features: [every], default: {} } as never), /field 'default': is not a known field \(known: .*defaults\)/);
});

test('loading a repo folder: a wrong-typed default names the file, the service, the feature and the type', async () => {
  const dir = await tempDir('defaults-repo');
  const api = join(process.cwd(), 'definitions', 'index.ts');
  await writeFile(
    join(dir, 'repo.ts'),
    `import { entity, featureService, featureView, parquetSource } from ${JSON.stringify(api)};\n` +
      `const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });\n` +
      `export const spend = featureView({ name: 'spend', entities: [user], source: parquetSource({ name: 's', path: 'data' }), schema: [{ name: 'txn_count', type: 'int64' }], ttl: '1h' });\n` +
      `export const model = featureService({ name: 'model', features: [spend], defaults: { 'spend:txn_count': 'zero' } });\n`,
  );
  await assert.rejects(
    loadFeatureRepo(dir),
    /repo\.ts, feature service 'model', field 'defaults\.spend:txn_count': the default of feature 'spend:txn_count' does not fit its declared type: expected int64 .*got string 'zero'/,
  );
});

test('plan: adding defaults is additive; changing or removing them applies but breaks the consumers of the service', () => {
  const plain = featureService({ name: 'svc', features: [every] });
  const registered: RegisteredState[] = desiredObjects(repoWith(plain)).map((o) => ({ ...o, status: 'active' }));
  assert.deepEqual(planChanges('p', registered, repoWith(plain)).changes, [], 'no defaults on either side: nothing to do');

  const withDefaults = featureService({ name: 'svc', features: [every], defaults: { 'every:i64': 0n, 'every:s': 'none' } });
  const added = planChanges('p', registered, repoWith(withDefaults));
  assert.equal(added.breaking, false);
  assert.equal(added.changes.length, 1);
  const [change] = added.changes;
  assert.deepEqual([change!.kind, change!.name, change!.action, change!.breaking], ['featureService', 'svc', 'update', false]);
  assert.deepEqual(change!.fields, [{ path: 'defaults', before: undefined, after: { 'every:i64': '0', 'every:s': 'none' }, breaking: false }]);
  assert.equal(added.breaksConsumers, false);
  assert.deepEqual(formatPlan(added).slice(2, 4), ["~ update feature service 'svc'", '    ADDITIVE  defaults: (none) -> {"every:i64":"0","every:s":"none"}']);

  const nowRegistered: RegisteredState[] = desiredObjects(repoWith(withDefaults)).map((o) => ({ ...o, status: 'active' }));
  const changed = featureService({ name: 'svc', features: [every], defaults: { 'every:i64': -1n, 'every:s': 'none' } });
  const plan = planChanges('p', nowRegistered, repoWith(changed));
  assert.equal(plan.breaking, false);
  assert.equal(plan.breaksConsumers, true);
  assert.deepEqual(plan.changes[0]!.fields, [
    {
      path: 'defaults.every:i64',
      before: '0',
      after: '-1',
      breaking: false,
      breaksConsumers: true,
      reason: `default of 'every:i64' changes: NOT_FOUND and OUTSIDE_MAX_AGE values served as -1 instead of 0`,
    },
  ]);

  const removed = planChanges('p', nowRegistered, repoWith(plain));
  assert.equal(removed.breaking, false);
  assert.equal(removed.breaksConsumers, true);
  assert.deepEqual(removed.changes[0]!.fields.map((f) => [f.path, f.breaking, f.breaksConsumers]), [['defaults', false, true]]);
});
