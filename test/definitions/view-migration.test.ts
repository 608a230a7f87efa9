// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFeatureRepo, entity, featureView, parquetSource, specOf, type FeatureViewOptions } from '../../definitions/index.ts';
import { migrationMapping } from '../../definitions/view-migration.ts';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { migrateTable } from '../../pipelines/migrate-table.ts';
import { tableToOnlineRows } from '../../pipelines/row-conversion.ts';

/** The migrateFrom declaration: what featureView and the repo check, the stored spec, and the row rewrite. */
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const source = parquetSource({ name: 'spend_source', path: 'data/spend' });
const v1 = featureView({
  name: 'user_spend',
  entities: [user],
  source,
  schema: [{ name: 'spend', type: 'float32' }, { name: 'count', type: 'float32' }],
  ttl: '1d',
});
const v2Options = (migrateFrom: FeatureViewOptions['migrateFrom']): FeatureViewOptions => ({
  name: 'user_spend',
  version: 2,
  entities: [user],
  source,
  schema: [{ name: 'spend_mean', type: 'float32' }, { name: 'count', type: 'int64' }],
  ttl: '1d',
  migrateFrom,
});

test('migrateFrom is checked where it is declared: an earlier version, known keys, identifiers, types', () => {
  assert.throws(() => featureView(v2Options({ version: 2 })), /field 'migrateFrom.version': must be an earlier version of the view \(1..1\), got 2/);
  assert.throws(() => featureView(v2Options({ version: 1, rename: { spend: 'not a name' } })), /field 'migrateFrom.rename.spend': must be an identifier/);
  assert.throws(() => featureView(v2Options({ version: 1, cast: { count: 'integer' as never } })), /field 'migrateFrom.cast.count': must be a type/);
  assert.throws(() => featureView(v2Options({ version: 1, transform: 'x' as never })), /field 'migrateFrom.transform': must be a function/);
  assert.throws(() => featureView({ ...v2Options({ version: 1 }), migrateFrom: { version: 1, renames: {} } as never }), /field 'migrateFrom.renames': is not a known field/);
});

test('with both versions in the repo, the declaration must fit them, naming the field and what to do', () => {
  const retypeWithoutCast = featureView(v2Options({ version: 1, rename: { spend: 'spend_mean' } }));
  assert.throws(
    () => buildFeatureRepo('.', [{ definition: v1 }, { definition: retypeWithoutCast }]),
    /feature view 'user_spend' version '2', field 'schema.count': 'count' is float32 in version 1 and int64 in version 2: declare migrateFrom.cast: \{ count: 'int64' \}/,
  );
  const unknown = featureView(v2Options({ version: 1, rename: { nope: 'spend_mean' }, cast: { count: 'int64' } }));
  assert.throws(() => buildFeatureRepo('.', [{ definition: v1 }, { definition: unknown }]), /field 'migrateFrom.rename.nope': version 1 has no column 'nope'/);
  const good = featureView(v2Options({ version: 1, rename: { spend: 'spend_mean' }, cast: { count: 'int64' } }));
  const repo = buildFeatureRepo('.', [{ definition: v1 }, { definition: good }]);
  assert.equal(repo.views.length, 2);
  const mapping = migrationMapping(specOf(v1), specOf(good));
  assert.deepEqual(
    mapping.columns.filter((c) => c.role === 'feature').map((c) => [c.column, c.source, c.cast]),
    [['spend_mean', 'spend', false], ['count', 'count', true]],
  );
});

test('the spec keeps renames, casts and a hash of the transform; a view without migrateFrom has no such key', () => {
  assert.equal('migrateFrom' in specOf(v1), false, 'specs (and content hashes) of existing views do not change');
  const declared = specOf(featureView(v2Options({ version: 1, rename: { spend: 'spend_mean' }, transform: (row) => ({ ...row, count: 1n }) })));
  assert.deepEqual(declared.migrateFrom?.rename, { spend: 'spend_mean' });
  assert.match(declared.migrateFrom?.transform ?? '', /^sha256:[0-9a-f]{32}$/);
});

test('rows rewritten: renames, exact casts, then the transform; a bad value or a throwing transform names object, row and value', () => {
  const v2 = featureView(v2Options({ version: 1, rename: { spend: 'spend_mean' }, cast: { count: 'int64' } }));
  const mapping = migrationMapping(specOf(v1), specOf(v2));
  const at = new Date('2024-05-01T00:00:00Z');
  const table = toViewTable(v1, [
    { user_id: 'u1', event_timestamp: at, spend: 1.5, count: 3 },
    { user_id: 'u2', event_timestamp: at, spend: 2.5, count: 4.5 },
  ]);
  const key = 'p/user_spend/v1/date=2024-05-01/b.parquet';
  assert.throws(
    () => migrateTable({ from: v1, to: v2, mapping, transform: null, table, objectKey: key, rowBase: 10 }),
    /object 'p\/user_spend\/v1\/date=2024-05-01\/b.parquet', row 12, column 'count': value 4.5 does not convert from float32 to int64: 4.5 is not a whole number/,
  );
  const rounded = migrateTable({ from: v1, to: v2, mapping: { ...mapping, columns: mapping.columns.map((c) => ({ ...c, cast: false })) }, transform: (row) => ({ ...row, count: Math.round(row.count as number) }), table, objectKey: key, rowBase: 0 });
  assert.deepEqual(tableToOnlineRows(v2, rounded).map((r) => r.values), [{ spend_mean: 1.5, count: 3n }, { spend_mean: 2.5, count: 5n }]);
  assert.throws(
    () => migrateTable({ from: v1, to: v2, mapping, transform: () => { throw new Error('no spend'); }, table, objectKey: key, rowBase: 0 }),
    /row 1: migrateFrom.transform threw on \{ user_id: 'u1', .* \}: no spend/,
  );
});

test('migration casts refuse values that do not fit the new type: float64 1e39 to float32, NaN unless allowed', () => {
  const wide = featureView({ name: 'ratios', entities: [user], source, ttl: '1d', schema: [{ name: 'ratio', type: 'float64', allowNonFinite: true }] });
  const narrow = (allowNonFinite: boolean) =>
    featureView({ name: 'ratios', version: 2, entities: [user], source, ttl: '1d', schema: [{ name: 'ratio', type: 'float32', allowNonFinite }], migrateFrom: { version: 1, cast: { ratio: 'float32' } } });
  const at = new Date('2024-05-01T00:00:00Z');
  const table = (ratio: number) => toViewTable(wide, [{ user_id: 'u1', event_timestamp: at, ratio: 0.5 }, { user_id: 'u2', event_timestamp: at, ratio }]);
  const run = (ratio: number, allowNonFinite = false) => {
    const to = narrow(allowNonFinite);
    const out = migrateTable({ from: wide, to, mapping: migrationMapping(specOf(wide), specOf(to)), transform: null, table: table(ratio), objectKey: 'k', rowBase: 0 });
    return tableToOnlineRows(to, out).map((r) => r.values.ratio);
  };
  assert.throws(() => run(1e39), /object 'k', row 2, column 'ratio': value 1e\+39 does not convert from float64 to float32: 1e\+39 is outside the float32 range/);
  assert.throws(() => run(1e300), /row 2, column 'ratio': value 1e\+300 .* outside the float32 range/);
  assert.throws(() => run(NaN), /row 2, column 'ratio': value NaN does not convert from float64 to float32: NaN is not a finite number/);
  assert.deepEqual(run(-Infinity, true), [0.5, -Infinity]);
  assert.deepEqual(run(3e38), [0.5, Math.fround(3e38)]);
  // Without a cast (a transform returning the value): checked as the new version's rows are.
  const to = narrow(false);
  const mapping = migrationMapping(specOf(wide), specOf(to));
  assert.throws(
    () => migrateTable({ from: wide, to, mapping: { ...mapping, columns: mapping.columns.map((c) => ({ ...c, cast: false })) }, transform: (row) => row, table: table(1e39), objectKey: 'k', rowBase: 0 }),
    /the migrated rows do not fit version 2 .*row 2, column 'ratio': 1e\+39 is outside the float32 range/,
  );
});
