import { DefinitionError } from './definition-error.ts';
import { parseDurationSeconds, type Duration } from './duration.ts';
import type { Entity } from './entity.ts';
import {
  checkIdentifier,
  checkKnownKeys,
  checkName,
  checkObject,
  checkOptionalString,
  checkTags,
  show,
} from './field-checks.ts';
import type { Source } from './source.ts';
import { checkMigrateFrom, type MigrateFromOptions, type ViewMigrationDeclaration } from './view-migration.ts';
import {
  checkFeatureMonitoring,
  checkViewMonitoring,
  type FeatureMonitoring,
  type FeatureMonitoringOptions,
  type ViewMonitoring,
  type ViewMonitoringOptions,
} from './monitoring-objectives.ts';
import { describeValueTypes, isFloatType, isValueType, type ValueType } from './value-type.ts';

/**
 * A feature view: named, typed features of one or more entities, read from one source, with a
 * TTL (how long a value stays valid after its event time), an owner, and a version. Breaking
 * changes to a view's schema need a new version; additive ones do not.
 *
 * @example
 *   const userSpend = featureView({
 *     name: 'user_spend_features',
 *     entities: [user],
 *     source: transactions,
 *     schema: [{ name: 'spend_7d_avg', type: 'float32' }, { name: 'txn_count_7d', type: 'int64' }],
 *     ttl: '1d',
 *     owner: 'fraud@acme.example',
 *   });
 *   userSpend.ttlSeconds // => 86400
 */
export interface Feature {
  readonly name: string;
  readonly type: ValueType;
  readonly nullable: boolean;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Whether NaN, Infinity and -Infinity are valid values (float types and lists of them only).
   * False by default: ingestion and migrations refuse them, naming row and column.
   */
  readonly allowNonFinite: boolean;
  /** Monitoring objectives of this feature over the view's (definitions/monitoring-objectives.ts); absent when not declared. */
  readonly monitoring?: FeatureMonitoring;
  /**
   * Personal data: no consumer reads it unless granted, and such a grant records who approved it
   * (`granary access grant ... --approved-by`); reads are counted per consumer. False by default.
   */
  readonly pii: boolean;
}

/** 'restricted': every feature of the view is treated as `pii` (deny unless granted with an approval). */
export type Sensitivity = 'normal' | 'restricted';

export interface FeatureView {
  readonly kind: 'featureView';
  readonly name: string;
  readonly version: number;
  readonly entities: readonly Entity[];
  readonly source: Source;
  readonly features: readonly Feature[];
  readonly ttlSeconds: number;
  readonly online: boolean;
  readonly owner: string;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
  /** 'restricted' makes every feature of the view restricted (see Feature.pii); 'normal' by default. */
  readonly sensitivity: Sensitivity;
  /** How this version is derived from an older one (definitions/view-migration.ts); absent when it is not. */
  readonly migrateFrom?: ViewMigrationDeclaration;
  /** Monitoring objectives (definitions/monitoring-objectives.ts); absent when not declared: the defaults apply. */
  readonly monitoring?: ViewMonitoring;
}

export interface FeatureOptions {
  name: string;
  type: ValueType;
  /** Defaults to true: a feature may be null. */
  nullable?: boolean;
  description?: string;
  tags?: Record<string, string>;
  /** float32, float64 and their lists only: accept NaN and +/-Infinity (refused by default). */
  allowNonFinite?: boolean;
  /** Monitoring objectives of this feature (completeness, psi, ks), over the view's. */
  monitoring?: FeatureMonitoringOptions;
  /** Personal data: deny unless granted with an approval (access/README in docs/plans/access-control.md). */
  pii?: boolean;
}

export interface FeatureViewOptions {
  name: string;
  /** The view version; a breaking schema change needs a new one. Defaults to 1. */
  version?: number;
  entities: Entity[];
  source: Source;
  schema: FeatureOptions[];
  ttl: Duration;
  /** Whether the view is materialized to the online store. Defaults to true. */
  online?: boolean;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
  /** 'restricted': every feature is treated as pii (deny unless granted with an approval). Defaults to 'normal'. */
  sensitivity?: Sensitivity;
  /**
   * For a breaking change: the older version this one is migrated from, with its renames, casts
   * and an optional row transform (`granary migrate` runs it). See definitions/view-migration.ts.
   */
  migrateFrom?: MigrateFromOptions;
  /** Monitoring objectives (SLOs); defaults apply to what is not declared (definitions/monitoring-objectives.ts). */
  monitoring?: ViewMonitoringOptions;
}

const FIELDS = ['name', 'version', 'entities', 'source', 'schema', 'ttl', 'online', 'owner', 'description', 'tags', 'sensitivity', 'migrateFrom', 'monitoring'];
const FEATURE_FIELDS = ['name', 'type', 'nullable', 'description', 'tags', 'allowNonFinite', 'pii', 'monitoring'];
/** Column names Granary keeps for itself in the online and offline rows. */
export const RESERVED_COLUMN_PREFIX = '__';

export function featureView(options: FeatureViewOptions): FeatureView {
  const raw = checkObject({ kind: 'feature view' }, options);
  const name = checkName({ kind: 'feature view' }, raw.name);
  const where = { kind: 'feature view', name };
  checkKnownKeys(where, raw, FIELDS);

  const version = raw.version ?? 1;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new DefinitionError({ ...where, field: 'version' }, `must be a whole number >= 1, got ${show(version)}`);
  }
  const entities = checkEntities(where, raw.entities);
  const source = raw.source as Source | undefined;
  if (!source || typeof source !== 'object' || source.kind !== 'source') {
    throw new DefinitionError({ ...where, field: 'source' }, `must be a source made with parquetSource(), got ${show(source)}`);
  }
  const ttlSeconds = parseDurationSeconds(raw.ttl as Duration);
  if (ttlSeconds === undefined) {
    throw new DefinitionError({ ...where, field: 'ttl' }, `must be seconds or a duration such as '1d' or '12h', got ${show(raw.ttl)}`);
  }
  if (ttlSeconds <= 0) throw new DefinitionError({ ...where, field: 'ttl' }, `must be > 0, got ${show(raw.ttl)}`);
  if (raw.online !== undefined && typeof raw.online !== 'boolean') {
    throw new DefinitionError({ ...where, field: 'online' }, `must be true or false, got ${show(raw.online)}`);
  }
  if (raw.sensitivity !== undefined && raw.sensitivity !== 'normal' && raw.sensitivity !== 'restricted') {
    throw new DefinitionError({ ...where, field: 'sensitivity' }, `must be 'normal' or 'restricted', got ${show(raw.sensitivity)}`);
  }
  const features = checkSchema(where, raw.schema, entities, source);
  const migrateFrom = checkMigrateFrom(where, raw.migrateFrom, version);
  const monitoring = checkViewMonitoring(where, raw.monitoring);

  return Object.freeze({
    kind: 'featureView',
    name,
    version,
    entities,
    source,
    features,
    ttlSeconds,
    online: raw.online ?? true,
    owner: checkOptionalString({ ...where, field: 'owner' }, raw.owner),
    description: checkOptionalString({ ...where, field: 'description' }, raw.description),
    tags: checkTags({ ...where, field: 'tags' }, raw.tags),
    sensitivity: raw.sensitivity ?? 'normal',
    ...(migrateFrom ? { migrateFrom } : {}),
    ...(monitoring ? { monitoring } : {}),
  });
}

/** The join keys of a view, in the order of its entities. */
export function joinKeys(view: FeatureView): string[] {
  return view.entities.map((e) => e.joinKey);
}

function checkEntities(where: { kind: string; name: string }, value: unknown): readonly Entity[] {
  const at = { ...where, field: 'entities' };
  if (!Array.isArray(value) || value.length === 0) {
    throw new DefinitionError(at, 'must list at least one entity made with entity()');
  }
  const seen = new Set<string>();
  for (const [i, e] of value.entries()) {
    if (!e || typeof e !== 'object' || (e as Entity).kind !== 'entity') {
      throw new DefinitionError(at, `item ${i} must be an entity made with entity(), got ${show(e)}`);
    }
    const joinKey = (e as Entity).joinKey;
    if (seen.has(joinKey)) throw new DefinitionError(at, `join key '${joinKey}' is listed twice`);
    seen.add(joinKey);
  }
  return Object.freeze([...(value as Entity[])]);
}

function checkSchema(
  where: { kind: string; name: string },
  value: unknown,
  entities: readonly Entity[],
  source: Source,
): readonly Feature[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new DefinitionError({ ...where, field: 'schema' }, 'must list at least one feature');
  }
  const seen = new Set<string>();
  const reserved = new Map<string, string>([
    ...entities.map((e): [string, string] => [e.joinKey, `the join key of entity '${e.name}'`]),
    [source.eventTimestampColumn, `the event timestamp column of source '${source.name}'`],
  ]);
  if (source.createdTimestampColumn) {
    reserved.set(source.createdTimestampColumn, `the created timestamp column of source '${source.name}'`);
  }
  return Object.freeze(
    value.map((item, i): Feature => {
      const at = { ...where, field: `schema[${i}]` };
      const f = checkObject(at, item);
      const featureName = checkIdentifier({ ...at, field: `schema[${i}].name` }, f.name);
      const fat = { ...where, field: `schema.${featureName}` };
      checkKnownKeys(fat, f, FEATURE_FIELDS);
      if (featureName.startsWith(RESERVED_COLUMN_PREFIX)) {
        throw new DefinitionError(fat, `feature names starting with '${RESERVED_COLUMN_PREFIX}' are reserved`);
      }
      if (seen.has(featureName)) throw new DefinitionError(fat, 'is defined twice');
      seen.add(featureName);
      const clash = reserved.get(featureName);
      if (clash) throw new DefinitionError(fat, `a feature cannot be named like ${clash}`);
      if (!isValueType(f.type)) {
        throw new DefinitionError(fat, `unsupported type ${show(f.type)}; use ${describeValueTypes()}`);
      }
      if (f.nullable !== undefined && typeof f.nullable !== 'boolean') {
        throw new DefinitionError(fat, `nullable must be true or false, got ${show(f.nullable)}`);
      }
      if (f.allowNonFinite !== undefined && typeof f.allowNonFinite !== 'boolean') {
        throw new DefinitionError(fat, `allowNonFinite must be true or false, got ${show(f.allowNonFinite)}`);
      }
      if (f.pii !== undefined && typeof f.pii !== 'boolean') {
        throw new DefinitionError(fat, `pii must be true or false, got ${show(f.pii)}`);
      }
      if (f.allowNonFinite === true && !isFloatType(f.type)) {
        throw new DefinitionError(fat, `allowNonFinite applies to float32, float64 and their lists only, not to ${f.type}`);
      }
      const monitoring = checkFeatureMonitoring({ ...fat, field: `schema.${featureName}.monitoring` }, f.monitoring);
      return Object.freeze({
        name: featureName,
        type: f.type,
        nullable: f.nullable ?? true,
        allowNonFinite: f.allowNonFinite === true,
        pii: f.pii === true,
        description: checkOptionalString({ ...fat, field: `schema.${featureName}.description` }, f.description),
        tags: checkTags({ ...fat, field: `schema.${featureName}.tags` }, f.tags),
        ...(monitoring ? { monitoring } : {}),
      });
    }),
  );
}
