import type { Entity } from './entity.ts';
import type { FeatureView } from './feature-view.ts';
import type { Source } from './source.ts';
import type { FeatureViewSpec } from './spec.ts';
import type { JoinKeyType, ValueType } from './value-type.ts';

/**
 * A feature view rebuilt from its registry spec, for pipelines that act on what was applied
 * rather than on a repo. The source keeps its name and timestamp columns; its path is not part
 * of a view's spec and stays empty.
 *
 * @example
 *   featureViewFromSpec(specOf(userSpend)).features // same features as userSpend
 */
export function featureViewFromSpec(spec: FeatureViewSpec): FeatureView {
  const entities = spec.entities.map(
    (e): Entity =>
      Object.freeze({
        kind: 'entity',
        name: e.name,
        joinKey: e.joinKey,
        valueType: e.valueType as JoinKeyType,
        description: '',
        owner: '',
        tags: Object.freeze({}),
      }),
  );
  const source: Source = Object.freeze({
    kind: 'source',
    name: spec.source,
    path: '',
    location: Object.freeze({ kind: 'local', path: '' }),
    eventTimestampColumn: spec.eventTimestampColumn,
    createdTimestampColumn: spec.createdTimestampColumn,
    description: '',
    owner: '',
    tags: Object.freeze({}),
  });
  return Object.freeze({
    kind: 'featureView',
    name: spec.name,
    version: spec.version,
    entities: Object.freeze(entities),
    source,
    features: Object.freeze(
      spec.features.map((f) =>
        Object.freeze({
          name: f.name,
          type: f.type as ValueType,
          nullable: f.nullable,
          description: f.description,
          tags: Object.freeze({ ...f.tags }),
          allowNonFinite: f.allowNonFinite === true,
          ...(f.monitoring ? { monitoring: Object.freeze({ ...f.monitoring }) } : {}),
          pii: f.pii === true,
        }),
      ),
    ),
    ttlSeconds: spec.ttlSeconds,
    online: spec.online,
    owner: spec.owner,
    description: spec.description,
    tags: Object.freeze({ ...spec.tags }),
    ...(spec.monitoring ? { monitoring: Object.freeze({ ...spec.monitoring }) } : {}),
    sensitivity: spec.sensitivity ?? 'normal',
  });
}
