import type { Pool, PoolClient } from 'pg';
import { OBJECT_COLUMNS, toRegisteredObject, type ObjectRow } from './registry-rows.ts';
import type { RegisteredObject } from './definition-registry.ts';
import type { ObjectKind } from '../../definitions/spec.ts';

/**
 * Reads of registered objects and their history, for one project.
 *
 * @example
 *   await selectObjects(pool, 'fraud', { kind: 'featureView' }) // => [{ kind: 'featureView', name: 'user_spend', ... }]
 */
export type Queryable = Pick<Pool | PoolClient, 'query'>;

export interface ObjectFilter {
  readonly kind?: ObjectKind;
  readonly name?: string;
  readonly version?: number;
  readonly includeRemoved?: boolean;
}

export async function selectObjects(db: Queryable, project: string, filter: ObjectFilter = {}): Promise<RegisteredObject[]> {
  const where = ['project = $1'];
  const params: unknown[] = [project];
  const add = (column: string, value: unknown): void => {
    params.push(value);
    where.push(`${column} = $${params.length}`);
  };
  if (filter.kind !== undefined) add('kind', filter.kind);
  if (filter.name !== undefined) add('name', filter.name);
  if (filter.version !== undefined) add('version', filter.version);
  if (!filter.includeRemoved) where.push(`status <> 'removed'`);
  const { rows } = await db.query<ObjectRow>(
    `SELECT ${OBJECT_COLUMNS} FROM granary_objects WHERE ${where.join(' AND ')}
      ORDER BY array_position(ARRAY['entity', 'source', 'featureView', 'featureService'], kind), name, version`,
    params,
  );
  return rows.map((row) => toRegisteredObject(row));
}

/** Every applied state of the object (all versions, for a view), oldest first. */
export async function selectHistory(db: Queryable, project: string, kind: ObjectKind, name: string): Promise<RegisteredObject[]> {
  const { rows } = await db.query<ObjectRow>(
    `SELECT ${OBJECT_COLUMNS} FROM granary_object_history
      WHERE project = $1 AND kind = $2 AND name = $3
      ORDER BY applied_at, id`,
    [project, kind, name],
  );
  return rows.map((row) => toRegisteredObject(row));
}
