// granary-test: no-stack
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import {
  DefinitionError,
  buildFeatureRepo,
  entity,
  featureService,
  featureView,
  loadFeatureRepo,
  parquetSource,
  parseDurationSeconds,
  resolveFeatureService,
  specOf,
} from '../../definitions/index.ts';
import { featureViewFromSpec } from '../../definitions/view-from-spec.ts';

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const source = parquetSource({ name: 'tx', path: 's3://raw-data/tx/', createdTimestampColumn: 'created_timestamp' });
const schema = [
  { name: 'spend', type: 'float32' as const },
  { name: 'count', type: 'int64' as const },
  { name: 'tags', type: 'list<string>' as const },
];
const spend = featureView({ name: 'user_spend', entities: [user], source, schema, ttl: '1d' });

function throwsAt(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DefinitionError, `expected a DefinitionError, got ${String(error)}`);
    assert.match(error.message, expected);
    return true;
  });
}

test('a view is frozen, typed and normalized', () => {
  assert.equal(spend.ttlSeconds, 86_400);
  assert.equal(spend.version, 1);
  assert.equal(spend.online, true);
  assert.deepEqual(spend.features.map((f) => [f.name, f.type, f.nullable]), [
    ['spend', 'float32', true],
    ['count', 'int64', true],
    ['tags', 'list<string>', true],
  ]);
  assert.ok(Object.isFrozen(spend) && Object.isFrozen(spend.features));
  assert.deepEqual(source.location, { kind: 's3', bucket: 'raw-data', prefix: 'tx/' });
});

test('durations', () => {
  assert.equal(parseDurationSeconds('1d12h'), 129_600);
  assert.equal(parseDurationSeconds(90), 90);
  assert.equal(parseDurationSeconds('2w'), 1_209_600);
  assert.equal(parseDurationSeconds('soon'), undefined);
});

test('invalid views name the object and the field', () => {
  const base = { name: 'v', entities: [user], source, schema, ttl: '1d' };
  throwsAt(() => featureView({ ...base, ttl: 0 }), /feature view 'v', field 'ttl': must be > 0/);
  throwsAt(() => featureView({ ...base, ttl: '-1d' }), /field 'ttl'/);
  throwsAt(() => featureView({ ...base, schema: [{ name: 'user_id', type: 'float32' }] }), /field 'schema.user_id': a feature cannot be named like the join key/);
  throwsAt(() => featureView({ ...base, schema: [{ name: 'event_timestamp', type: 'float32' }] }), /event timestamp column/);
  throwsAt(() => featureView({ ...base, schema: [{ name: 'a', type: 'float32' }, { name: 'a', type: 'int64' }] }), /schema.a': is defined twice/);
  throwsAt(() => featureView({ ...base, schema: [{ name: 'a', type: 'decimal' as never }] }), /schema.a': unsupported type 'decimal'/);
  throwsAt(() => featureView({ ...base, schema: [] }), /field 'schema': must list at least one feature/);
  throwsAt(() => featureView({ ...base, entities: [] }), /field 'entities'/);
  throwsAt(() => featureView({ ...base, entities: [user, user] }), /join key 'user_id' is listed twice/);
  throwsAt(() => featureView({ ...base, version: 0 }), /field 'version'/);
  throwsAt(() => featureView({ ...base, name: 'bad name' }), /field 'name'/);
  throwsAt(() => featureView({ ...base, colour: 'red' } as never), /field 'colour': is not a known field/);
  throwsAt(() => featureView({ ...base, source: 's3://x' as never }), /field 'source'/);
});

test('invalid entities, sources and services', () => {
  throwsAt(() => entity({ name: 'e', valueType: 'float32' as never }), /entity 'e', field 'valueType': must be one of int32, int64, string/);
  throwsAt(() => parquetSource({ name: 's', path: 'gs://bucket/x' }), /source 's', field 'path': only s3:\/\/ URLs/);
  throwsAt(
    () => parquetSource({ name: 's', path: 'x', eventTimestampColumn: 'ts', createdTimestampColumn: 'ts' }),
    /createdTimestampColumn': must differ/,
  );
  throwsAt(() => featureService({ name: 'svc', features: ['not a ref'] }), /feature service 'svc', field 'features\[0\]'/);
  throwsAt(() => featureService({ name: 'svc', features: [] }), /field 'features'/);
});

test('a service keeps the order it lists, across views', () => {
  const other = featureView({
    name: 'user_profile',
    entities: [user],
    source,
    schema: [{ name: 'age', type: 'int32' }],
    ttl: '30d',
  });
  const service = featureService({ name: 'svc', features: ['user_profile:age', { view: spend, features: ['count', 'spend'] }] });
  const repo = buildFeatureRepo('.', [{ definition: spend }, { definition: other }, { definition: service }]);
  assert.deepEqual(
    resolveFeatureService(repo, service).map((f) => `${f.view.name}:${f.feature.name}`),
    ['user_profile:age', 'user_spend:count', 'user_spend:spend'],
  );
});

test('repo checks: unknown view or feature, duplicates, join key types', () => {
  const unknownView = featureService({ name: 'svc', features: ['nope:spend'] });
  throwsAt(() => buildFeatureRepo('.', [{ definition: spend }, { definition: unknownView, file: 'svc.ts' }]), /svc.ts, feature service 'svc', field 'features\[0\]': unknown feature view 'nope'/);
  const unknownFeature = featureService({ name: 'svc', features: ['user_spend:nope'] });
  throwsAt(() => buildFeatureRepo('.', [{ definition: spend }, { definition: unknownFeature }]), /has no feature 'nope'/);
  const twice = featureService({ name: 'svc', features: ['user_spend:spend', spend] });
  throwsAt(() => buildFeatureRepo('.', [{ definition: spend }, { definition: twice }]), /'user_spend:spend' is listed twice/);
  const clash = featureView({ name: 'user_spend', entities: [user], source, schema: [{ name: 'x', type: 'bool' }], ttl: 60 });
  throwsAt(() => buildFeatureRepo('.', [{ definition: spend, file: 'a.ts' }, { definition: clash, file: 'b.ts' }]), /b.ts, feature view 'user_spend' version '1': is defined twice .*first defined in a.ts/);
  const customer = entity({ name: 'customer', joinKey: 'user_id', valueType: 'int64' });
  throwsAt(() => buildFeatureRepo('.', [{ definition: user }, { definition: customer }]), /join key 'user_id' is 'int64' here but 'string'/);
});

test('two versions of a view live side by side; unpinned references take the highest', () => {
  const v2 = featureView({ name: 'user_spend', version: 2, entities: [user], source, schema: [{ name: 'spend_cents', type: 'int64' }], ttl: '1d' });
  const pinned = featureService({ name: 'old', features: ['user_spend@1:spend'] });
  const latest = featureService({ name: 'new', features: ['user_spend'] });
  const repo = buildFeatureRepo('.', [{ definition: spend }, { definition: v2 }, { definition: pinned }, { definition: latest }]);
  assert.equal(resolveFeatureService(repo, pinned)[0]!.view.version, 1);
  assert.deepEqual(resolveFeatureService(repo, latest).map((f) => f.feature.name), ['spend_cents']);
});

test('a spec round-trips to an equivalent view', () => {
  const again = featureViewFromSpec(specOf(spend));
  assert.deepEqual(specOf(again), specOf(spend));
});

test('loading a repo folder: definitions from every file, errors name the file', async () => {
  const dir = await tempDir('repo');
  const api = join(process.cwd(), 'definitions', 'index.ts');
  await writeFile(
    join(dir, 'entities.ts'),
    `import { entity } from ${JSON.stringify(api)};\nexport const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });\n`,
  );
  await writeFile(
    join(dir, 'views.ts'),
    `import { featureView, parquetSource } from ${JSON.stringify(api)};\nimport { user } from './entities.ts';\n` +
      `export const v = featureView({ name: 'v', entities: [user], source: parquetSource({ name: 's', path: 'data' }), schema: [{ name: 'f', type: 'float64' }], ttl: '1h' });\n`,
  );
  const repo = await loadFeatureRepo(dir);
  assert.deepEqual([repo.entities.length, repo.sources.length, repo.views.length], [1, 1, 1]);

  await writeFile(
    join(dir, 'broken.ts'),
    `import { featureView } from ${JSON.stringify(api)};\nimport { user } from './entities.ts';\nimport { v } from './views.ts';\n` +
      `export const w = featureView({ name: 'w', entities: [user], source: v.source, schema: [{ name: 'f', type: 'float64' }], ttl: 0 });\n`,
  );
  await assert.rejects(loadFeatureRepo(dir), /broken\.ts, feature view 'w', field 'ttl': must be > 0/);
});

test('the example repos load', async () => {
  const fraud = await loadFeatureRepo('definitions/examples/fraud');
  assert.deepEqual(fraud.views.map((v) => v.name), ['user_spend_features']);
  assert.deepEqual(
    resolveFeatureService(fraud, fraud.services[0]!).map((f) => f.feature.name),
    ['spend_7d_avg', 'spend_30d_avg', 'txn_count_7d', 'spend_velocity'],
  );
  const attrition = await loadFeatureRepo('definitions/examples/attrition');
  assert.equal(attrition.services[0]!.name, 'attrition_model_v1');
  assert.equal(attrition.views[0]!.ttlSeconds, 7 * 86_400);
});

test('allowNonFinite: float features only, checked at load, kept in the spec only when set', () => {
  const view = featureView({
    name: 'ratios', entities: [user], source, ttl: '1d',
    schema: [{ name: 'ratio', type: 'float64', allowNonFinite: true }, { name: 'scores', type: 'list<float32>', allowNonFinite: false }, { name: 'n', type: 'int64' }],
  });
  assert.deepEqual(view.features.map((f) => f.allowNonFinite), [true, false, false]);
  assert.deepEqual(specOf(view).features.map((f) => f.allowNonFinite), [true, undefined, undefined], 'absent unless true: other specs keep their hash');
  assert.equal(featureViewFromSpec(specOf(view)).features[0]!.allowNonFinite, true);
  assert.equal('allowNonFinite' in specOf(spend).features[0]!, false);
  throwsAt(
    () => featureView({ name: 'bad', entities: [user], source, ttl: '1d', schema: [{ name: 'n', type: 'int64', allowNonFinite: true }] }),
    /feature view 'bad', field 'schema\.n': allowNonFinite applies to float32, float64 and their lists only, not to int64/,
  );
  throwsAt(
    () => featureView({ name: 'bad', entities: [user], source, ttl: '1d', schema: [{ name: 'x', type: 'float32', allowNonFinite: 'yes' as never }] }),
    /field 'schema\.x': allowNonFinite must be true or false, got 'yes'/,
  );
});
