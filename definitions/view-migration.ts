import { createHash } from 'node:crypto';
import { DefinitionError, type DefinitionLocation } from './definition-error.ts';
import { checkIdentifier, checkObject, show } from './field-checks.ts';
import type { FeatureViewSpec } from './spec.ts';
import { describeValueTypes, isValueType, type ValueType } from './value-type.ts';

/**
 * How a new version of a feature view is derived from an older one: the `migrateFrom` option of
 * featureView. Renames and casts are data (stored in the registry spec, so any worker can run
 * them); a TypeScript `transform` is code, run only by a worker started with the feature repo
 * (`granary worker --repo DIR`); the spec stores a hash of its source so a worker can tell it
 * runs the function that was applied.
 *
 * Per row, in this order: columns renamed (`rename: { old: new }`, join keys and timestamps
 * included), the declared casts applied (`cast: { new_name: 'int64' }`: exact, a value that does
 * not convert or does not fit the new type, such as 2.5 to int64, 1e39 to float32, or NaN where
 * the new feature does not declare allowNonFinite, is an error naming the object, row and value),
 * then `transform(row)`, which gets
 * and returns a row keyed by the new version's column names (timestamps as Date, int64 as
 * bigint). The result is checked against the new version like any ingested batch.
 *
 * @example
 *   featureView({ name: 'user_spend', version: 2, ..., migrateFrom: {
 *     version: 1, rename: { spend_7d_avg: 'spend_7d_mean' }, cast: { txn_count_7d: 'int64' } } })
 */
export type MigrationRow = Record<string, unknown>;

export interface MigrateFromOptions {
  /** The version the rows come from. */
  version: number;
  /** Columns renamed, old name to new name. */
  rename?: Record<string, string>;
  /** Columns whose type changes, new name to new type (the type the new version declares). */
  cast?: Record<string, ValueType>;
  /** Anything else, per row; must be deterministic (a retry runs it again). */
  transform?: (row: MigrationRow) => MigrationRow;
}

export interface ViewMigrationDeclaration {
  readonly version: number;
  readonly rename: Readonly<Record<string, string>>;
  readonly cast: Readonly<Record<string, ValueType>>;
  readonly transform: ((row: MigrationRow) => MigrationRow) | null;
}

/** The JSON form kept in the view's registry spec. */
export interface MigrateFromSpec {
  version: number;
  rename: Record<string, string>;
  cast: Record<string, string>;
  /** 'sha256:<hex>' of the transform's source text, or null without one. */
  transform: string | null;
}

const FIELDS = ['version', 'rename', 'cast', 'transform'];

/** Checks the `migrateFrom` option of a view of `version` (what can be checked without the old version). */
export function checkMigrateFrom(where: DefinitionLocation, value: unknown, version: number): ViewMigrationDeclaration | null {
  if (value === undefined || value === null) return null;
  const at = { ...where, field: 'migrateFrom' };
  const raw = checkObject(at, value);
  for (const key of Object.keys(raw)) {
    if (!FIELDS.includes(key)) throw new DefinitionError({ ...where, field: `migrateFrom.${key}` }, `is not a known field (known: ${FIELDS.join(', ')})`);
  }
  const from = raw.version;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 1 || from >= version) {
    throw new DefinitionError({ ...where, field: 'migrateFrom.version' }, `must be an earlier version of the view (1..${version - 1}), got ${show(from)}`);
  }
  const rename = checkNameMap({ ...where, field: 'migrateFrom.rename' }, raw.rename, (v) => typeof v === 'string', 'a new column name');
  const targets = Object.values(rename);
  const twice = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twice) throw new DefinitionError({ ...where, field: 'migrateFrom.rename' }, `two columns are renamed to '${twice}'`);
  for (const [old, target] of Object.entries(rename)) checkIdentifier({ ...where, field: `migrateFrom.rename.${old}` }, target);
  const cast = checkNameMap({ ...where, field: 'migrateFrom.cast' }, raw.cast, isValueType, `a type (${describeValueTypes()})`) as Record<string, ValueType>;
  if (raw.transform !== undefined && typeof raw.transform !== 'function') {
    throw new DefinitionError({ ...where, field: 'migrateFrom.transform' }, `must be a function (row) => row, got ${show(raw.transform)}`);
  }
  return Object.freeze({
    version: from,
    rename: Object.freeze(rename),
    cast: Object.freeze(cast),
    transform: (raw.transform as ViewMigrationDeclaration['transform']) ?? null,
  });
}

export function migrateFromSpecOf(declaration: ViewMigrationDeclaration): MigrateFromSpec {
  return {
    version: declaration.version,
    rename: { ...declaration.rename },
    cast: { ...declaration.cast },
    transform: declaration.transform ? transformHash(declaration.transform) : null,
  };
}

/** What identifies a transform function across processes: a hash of its source text. */
export function transformHash(transform: (row: MigrationRow) => MigrationRow): string {
  return `sha256:${createHash('sha256').update(transform.toString()).digest('hex').slice(0, 32)}`;
}

/** One column of the new version and where its values come from in the old one. */
export interface ColumnSource {
  readonly column: string;
  readonly type: ValueType;
  readonly role: 'joinKey' | 'eventTimestamp' | 'createdTimestamp' | 'feature';
  /** The old version's column, or null (a new feature: null unless the transform sets it). */
  readonly source: string | null;
  readonly sourceType: ValueType | null;
  /** Declared in `cast`: the value is converted to `type`. */
  readonly cast: boolean;
}

export interface MigrationMapping {
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly columns: readonly ColumnSource[];
  /** Old features no column of the new version reads. */
  readonly dropped: readonly string[];
  readonly hasTransform: boolean;
}

/**
 * Checks a declared migration against both versions' specs and says where each column of the
 * new version comes from. Throws a DefinitionError naming the field when a join key or the event
 * timestamp has no source, a type changes without a cast (or a transform), or a name is unknown.
 *
 * @example
 *   migrationMapping(v1Spec, v2Spec).columns.find((c) => c.column === 'spend_7d_mean')
 *   // => { column: 'spend_7d_mean', type: 'float32', role: 'feature', source: 'spend_7d_avg', sourceType: 'float32', cast: false }
 */
export function migrationMapping(from: FeatureViewSpec, to: FeatureViewSpec): MigrationMapping {
  const where = { kind: 'feature view', name: `${to.name}' version '${to.version}` };
  const declared = to.migrateFrom;
  if (!declared) throw new DefinitionError({ ...where, field: 'migrateFrom' }, `declares no migration (add migrateFrom: { version: ${from.version} })`);
  if (declared.version !== from.version) {
    throw new DefinitionError({ ...where, field: 'migrateFrom.version' }, `migrates from version ${declared.version}, not ${from.version}`);
  }
  const oldColumns = columnTypes(from);
  const newColumns = columnTypes(to);
  const renamedFrom = new Map<string, string>();
  for (const [old, target] of Object.entries(declared.rename)) {
    if (!oldColumns.has(old)) {
      throw new DefinitionError({ ...where, field: `migrateFrom.rename.${old}` }, `version ${from.version} has no column '${old}' (it has: ${[...oldColumns.keys()].join(', ')})`);
    }
    if (!newColumns.has(target)) {
      throw new DefinitionError({ ...where, field: `migrateFrom.rename.${old}` }, `version ${to.version} has no column '${target}' (it has: ${[...newColumns.keys()].join(', ')})`);
    }
    renamedFrom.set(target, old);
  }
  const renamedAway = new Set(Object.keys(declared.rename));
  for (const [column, type] of Object.entries(declared.cast)) {
    const declaredType = newColumns.get(column)?.type;
    if (!declaredType) throw new DefinitionError({ ...where, field: `migrateFrom.cast.${column}` }, `version ${to.version} has no column '${column}'`);
    if (declaredType !== type) {
      throw new DefinitionError({ ...where, field: `migrateFrom.cast.${column}` }, `casts to ${type}, but version ${to.version} declares '${column}' as ${declaredType}`);
    }
  }
  const hasTransform = declared.transform !== null;
  const used = new Set<string>();
  const columns = [...newColumns.values()].map((c): ColumnSource => {
    let source = renamedFrom.get(c.column) ?? (oldColumns.has(c.column) && !renamedAway.has(c.column) ? c.column : null);
    // The event and created timestamp columns follow each other whatever their names.
    if (source === null && c.role === 'eventTimestamp') source = from.eventTimestampColumn;
    if (source === null && c.role === 'createdTimestamp' && from.createdTimestampColumn && !renamedAway.has(from.createdTimestampColumn)) source = from.createdTimestampColumn;
    const sourceType = source === null ? null : oldColumns.get(source)!.type;
    if (source !== null) used.add(source);
    const cast = c.column in declared.cast;
    const field = `schema.${c.column}`;
    if (source === null && !hasTransform && (c.role === 'joinKey' || !c.nullable)) {
      throw new DefinitionError(
        { ...where, field },
        `${c.role === 'joinKey' ? 'join key' : 'non-nullable feature'} '${c.column}' has no source in version ${from.version}: rename a column to it (migrateFrom.rename) or set it in migrateFrom.transform`,
      );
    }
    if (source !== null && sourceType !== c.type && !cast && !hasTransform) {
      throw new DefinitionError(
        { ...where, field },
        `'${c.column}' is ${sourceType} in version ${from.version} and ${c.type} in version ${to.version}: declare migrateFrom.cast: { ${c.column}: '${c.type}' } or convert it in migrateFrom.transform`,
      );
    }
    return { column: c.column, type: c.type, role: c.role, source, sourceType, cast };
  });
  const dropped = from.features.map((f) => f.name).filter((name) => !used.has(name));
  return { view: to.name, from: from.version, to: to.version, columns, dropped, hasTransform };
}

interface ColumnInfo {
  readonly column: string;
  readonly type: ValueType;
  readonly role: ColumnSource['role'];
  readonly nullable: boolean;
}

function columnTypes(spec: FeatureViewSpec): Map<string, ColumnInfo> {
  const out = new Map<string, ColumnInfo>();
  for (const e of spec.entities) out.set(e.joinKey, { column: e.joinKey, type: e.valueType as ValueType, role: 'joinKey', nullable: false });
  out.set(spec.eventTimestampColumn, { column: spec.eventTimestampColumn, type: 'timestamp', role: 'eventTimestamp', nullable: false });
  if (spec.createdTimestampColumn) {
    out.set(spec.createdTimestampColumn, { column: spec.createdTimestampColumn, type: 'timestamp', role: 'createdTimestamp', nullable: true });
  }
  for (const f of spec.features) out.set(f.name, { column: f.name, type: f.type as ValueType, role: 'feature', nullable: f.nullable });
  return out;
}

function checkNameMap(where: DefinitionLocation, value: unknown, ok: (v: unknown) => boolean, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DefinitionError(where, `must be an object { column: ${what} }, got ${show(value)}`);
  const out: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) {
    checkIdentifier({ ...where, field: `${where.field}.${key}` }, key);
    const v = (value as Record<string, unknown>)[key];
    if (!ok(v)) throw new DefinitionError({ ...where, field: `${where.field}.${key}` }, `must be ${what}, got ${show(v)}`);
    out[key] = v as string;
  }
  return out;
}
