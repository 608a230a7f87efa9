import type { Entity } from './entity.ts';
import { defaultToJson, type DefaultJson } from './feature-defaults.ts';
import type { FeatureService } from './feature-service.ts';
import type { FeatureView } from './feature-view.ts';
import type { Source } from './source.ts';
import { migrateFromSpecOf, type MigrateFromSpec } from './view-migration.ts';
import type { FeatureMonitoring, ServiceMonitoring, ViewMonitoring } from './monitoring-objectives.ts';

/**
 * The JSON form of a definition: what the registry stores and what plan diffs. References to
 * other objects are by name, so a spec stands alone.
 *
 * @example
 *   specOf(entity({ name: 'user', joinKey: 'user_id', valueType: 'string' }))
 *   // => { name: 'user', joinKey: 'user_id', valueType: 'string', description: '', owner: '', tags: {} }
 */
export interface EntitySpec {
  name: string;
  joinKey: string;
  valueType: string;
  description: string;
  owner: string;
  tags: Record<string, string>;
}

export interface SourceSpec {
  name: string;
  path: string;
  eventTimestampColumn: string;
  createdTimestampColumn: string | null;
  description: string;
  owner: string;
  tags: Record<string, string>;
}

export interface FeatureSpec {
  name: string;
  type: string;
  nullable: boolean;
  description: string;
  tags: Record<string, string>;
  /** Present (true) only when the feature accepts NaN and infinities, so other specs keep their hash. */
  allowNonFinite?: true;
  /** Only when declared (definitions/monitoring-objectives.ts), so other specs keep their hash. */
  monitoring?: FeatureMonitoring;
  /** Present (true) only on personal data (access control), so other specs keep their hash. */
  pii?: true;
}

export interface FeatureViewSpec {
  name: string;
  version: number;
  entities: { name: string; joinKey: string; valueType: string }[];
  source: string;
  eventTimestampColumn: string;
  createdTimestampColumn: string | null;
  features: FeatureSpec[];
  ttlSeconds: number;
  online: boolean;
  owner: string;
  description: string;
  tags: Record<string, string>;
  /** Present only on a restricted view (access control), so other specs keep their hash. */
  sensitivity?: 'restricted';
  /** Only on a version declared as migrated from an older one (definitions/view-migration.ts). */
  migrateFrom?: MigrateFromSpec;
  /** Only when declared; a change is additive. */
  monitoring?: ViewMonitoring;
}

export interface FeatureServiceSpec {
  name: string;
  items: { view: string; version: number | null; features: string[] | null }[];
  owner: string;
  description: string;
  tags: Record<string, string>;
  /**
   * Values served for missing or stale values, keyed 'view:feature', in their JSON form (see
   * feature-defaults.ts). Left out when the service declares none (fail-closed), so services
   * without defaults keep the spec (and content hash) they had before defaults existed.
   */
  defaults?: Record<string, DefaultJson>;
  /** Only when declared; a change is additive. */
  monitoring?: ServiceMonitoring;
}

export type KindSpec = {
  entity: EntitySpec;
  source: SourceSpec;
  featureView: FeatureViewSpec;
  featureService: FeatureServiceSpec;
};

/** The kinds of registered objects: entity, source, view, service. */
export type ObjectKind = keyof KindSpec;

export function specOf(definition: Entity): EntitySpec;
export function specOf(definition: Source): SourceSpec;
export function specOf(definition: FeatureView): FeatureViewSpec;
export function specOf(definition: FeatureService): FeatureServiceSpec;
export function specOf(definition: Entity | Source | FeatureView | FeatureService): KindSpec[keyof KindSpec];
export function specOf(definition: Entity | Source | FeatureView | FeatureService): KindSpec[keyof KindSpec] {
  switch (definition.kind) {
    case 'entity':
      return {
        name: definition.name,
        joinKey: definition.joinKey,
        valueType: definition.valueType,
        description: definition.description,
        owner: definition.owner,
        tags: { ...definition.tags },
      };
    case 'source':
      return {
        name: definition.name,
        path: definition.path,
        eventTimestampColumn: definition.eventTimestampColumn,
        createdTimestampColumn: definition.createdTimestampColumn,
        description: definition.description,
        owner: definition.owner,
        tags: { ...definition.tags },
      };
    case 'featureView':
      return {
        name: definition.name,
        version: definition.version,
        entities: definition.entities.map((e) => ({ name: e.name, joinKey: e.joinKey, valueType: e.valueType })),
        source: definition.source.name,
        eventTimestampColumn: definition.source.eventTimestampColumn,
        createdTimestampColumn: definition.source.createdTimestampColumn,
        features: definition.features.map((f) => ({
          name: f.name,
          type: f.type,
          nullable: f.nullable,
          description: f.description,
          tags: { ...f.tags },
          ...(f.allowNonFinite ? { allowNonFinite: true as const } : {}),
          ...(f.monitoring ? { monitoring: { ...f.monitoring } } : {}),
          ...(f.pii ? { pii: true as const } : {}),
        })),
        ttlSeconds: definition.ttlSeconds,
        online: definition.online,
        owner: definition.owner,
        description: definition.description,
        tags: { ...definition.tags },
        ...(definition.sensitivity === 'restricted' ? { sensitivity: 'restricted' as const } : {}),
        ...(definition.migrateFrom ? { migrateFrom: migrateFromSpecOf(definition.migrateFrom) } : {}),
        ...(definition.monitoring ? { monitoring: { ...definition.monitoring } } : {}),
      };
    case 'featureService':
      return {
        name: definition.name,
        items: definition.items.map((i) => ({
          view: i.view,
          version: i.version,
          features: i.features ? [...i.features] : null,
        })),
        owner: definition.owner,
        description: definition.description,
        tags: { ...definition.tags },
        ...defaultsSpec(definition.defaults),
        ...(definition.monitoring ? { monitoring: { ...definition.monitoring } } : {}),
      };
  }
}

function defaultsSpec(defaults: FeatureService['defaults']): { defaults?: Record<string, DefaultJson> } {
  const keys = Object.keys(defaults);
  if (keys.length === 0) return {};
  return { defaults: Object.fromEntries(keys.map((key) => [key, defaultToJson(defaults[key]!)])) };
}
