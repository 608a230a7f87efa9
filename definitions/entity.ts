import { DefinitionError } from './definition-error.ts';
import { checkIdentifier, checkKnownKeys, checkName, checkObject, checkOptionalString, checkTags, show } from './field-checks.ts';
import { JOIN_KEY_TYPES, type JoinKeyType } from './value-type.ts';

/**
 * An entity: the thing features describe, identified by a join key.
 *
 * @example
 *   const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
 *   user.joinKey // => 'user_id'
 */
export interface Entity {
  readonly kind: 'entity';
  readonly name: string;
  readonly joinKey: string;
  readonly valueType: JoinKeyType;
  readonly description: string;
  readonly owner: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface EntityOptions {
  name: string;
  /** The column that identifies the entity in every source; defaults to the name. */
  joinKey?: string;
  valueType: JoinKeyType;
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
}

const FIELDS = ['name', 'joinKey', 'valueType', 'description', 'owner', 'tags'];

export function entity(options: EntityOptions): Entity {
  const raw = checkObject({ kind: 'entity' }, options);
  const name = checkName({ kind: 'entity' }, raw.name);
  const where = { kind: 'entity', name };
  checkKnownKeys(where, raw, FIELDS);
  const joinKey = checkIdentifier({ ...where, field: 'joinKey' }, raw.joinKey ?? name);
  if (!(JOIN_KEY_TYPES as readonly unknown[]).includes(raw.valueType)) {
    throw new DefinitionError(
      { ...where, field: 'valueType' },
      `must be one of ${JOIN_KEY_TYPES.join(', ')}, got ${show(raw.valueType)}`,
    );
  }
  return Object.freeze({
    kind: 'entity',
    name,
    joinKey,
    valueType: raw.valueType as JoinKeyType,
    description: checkOptionalString({ ...where, field: 'description' }, raw.description),
    owner: checkOptionalString({ ...where, field: 'owner' }, raw.owner),
    tags: checkTags({ ...where, field: 'tags' }, raw.tags),
  });
}
