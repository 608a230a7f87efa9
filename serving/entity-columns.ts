import { checkJoinKeyValue, checkValue } from '../definitions/check-value.ts';
import type { JoinKeyType } from '../definitions/value-type.ts';
import type { FeaturePlan } from './serving-catalog.ts';
import type { JoinKeyValue } from '../definitions/feature-value.ts';
import { ServingError, quotedList } from './serving-error.ts';

/** Entity rows as columns: one array of join-key values per join key of the plan. */
export interface EntityColumns {
  readonly rowCount: number;
  /** columns[k][r]: the plan's join key k of entity row r. */
  readonly columns: readonly (readonly JoinKeyValue[])[];
}

/** An int64 key as a string: an optional minus and decimal digits (bounded: a longer one is out of range anyway). */
const DECIMAL = /^-?\d{1,40}$/;

/**
 * The entities of a request, checked against the declared type of each join key the plan needs,
 * as columns in the plan's join-key order. A value of the wrong type is an error naming the join
 * key and the entity row, never a miss: a string where an int64 is declared would otherwise read
 * a key that cannot exist and answer NOT_FOUND.
 *
 *   string  a string
 *   int32   a whole number in range (a bigint in range too)
 *   int64   a safe-integer number, a bigint in range, or a decimal string in range ("-12",
 *           "9007199254740993"): the exact form of a key beyond 2^53, where JSON numbers (and JS
 *           numbers) are not exact. A number beyond 2^53 is refused (it may already be rounded:
 *           9007199254740993 parses as 9007199254740992), saying to send the decimal string.
 *
 * Join-key columns the plan does not need are ignored (as Feast does).
 *
 * @example
 *   entityColumnsFromColumns({ driver_id: [1001, 1002] }, plan) // => { rowCount: 2, columns: [[1001, 1002]] }
 *   entityColumnsFromColumns({ driver_id: ['9007199254740993'] }, plan) // => { rowCount: 1, columns: [[9007199254740993n]] }
 *   entityColumnsFromColumns({ driver_id: ['10O1'] }, plan)
 *   // throws ServingError INVALID_ENTITY_KEY: entity row 0: join key 'driver_id' is int64, got string "10O1" (not a decimal integer)
 *
 * Feast's shape: `{ join_key: [v1, v2, ...], ... }`.
 */
export function entityColumnsFromColumns(entities: unknown, plan: FeaturePlan, maxEntities = Infinity): EntityColumns {
  if (typeof entities !== 'object' || entities === null || Array.isArray(entities)) {
    throw new ServingError('INVALID_REQUEST', `'entities' must be an object of join-key columns, e.g. {"user_id": ["u1", "u2"]}, got ${describe(entities)}`);
  }
  const given = entities as Record<string, unknown>;
  let rowCount = -1;
  let first = '';
  const raw = plan.joinKeys.map(({ name }) => {
    if (!Object.hasOwn(given, name)) throw missingKey(name, plan, Object.keys(given));
    const column = given[name];
    if (!Array.isArray(column)) {
      throw new ServingError('INVALID_REQUEST', `entities.${name} must be a list of values, got ${describe(column)}`);
    }
    if (rowCount < 0) {
      rowCount = column.length;
      first = name;
    } else if (column.length !== rowCount) {
      throw new ServingError('INVALID_REQUEST', `entities.${name} has ${column.length} value(s) but entities.${first} has ${rowCount}: every join-key column needs one value per entity row`);
    }
    return column as unknown[];
  });
  rowCount = Math.max(rowCount, 0);
  checkCount(rowCount, maxEntities);
  return { rowCount, columns: raw.map((column, k) => column.map((value, r) => checkJoinValue(value, plan.joinKeys[k]!, r))) };
}

/** The SDK's shape: `[{ join_key: v, ... }, ...]`. */
export function entityColumnsFromRows(rows: unknown, plan: FeaturePlan, maxEntities = Infinity): EntityColumns {
  if (!Array.isArray(rows)) throw new ServingError('INVALID_REQUEST', `'entityRows' must be a list of objects, got ${describe(rows)}`);
  checkCount(rows.length, maxEntities);
  const columns = plan.joinKeys.map(() => new Array<JoinKeyValue>(rows.length));
  rows.forEach((row: unknown, r) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new ServingError('INVALID_REQUEST', `entity row ${r} must be an object of join-key values, got ${describe(row)}`);
    }
    plan.joinKeys.forEach((key, k) => {
      if (!Object.hasOwn(row, key.name)) throw missingKey(key.name, plan, Object.keys(row), r);
      columns[k]![r] = checkJoinValue((row as Record<string, unknown>)[key.name], key, r);
    });
  });
  return { rowCount: rows.length, columns };
}

export function checkJoinValue(value: unknown, key: { readonly name: string; readonly type: JoinKeyType }, row: number): JoinKeyValue {
  // An int32 key given as a bigint is served as a number.
  if (checkJoinKeyValue(key.type, value) === undefined) return key.type === 'int32' && typeof value === 'bigint' ? Number(value) : (value as JoinKeyValue);
  if (key.type === 'int64') {
    if (typeof value === 'string') return int64FromString(value, key.name, row);
    if (typeof value === 'number' && Number.isInteger(value)) {
      throw new ServingError(
        'INVALID_ENTITY_KEY',
        `entity row ${row}: join key '${key.name}' (int64) value ${value} is beyond 2^53, where a JSON number is not exact ` +
          `(9007199254740993 arrives as 9007199254740992): send the key as a decimal string, e.g. "9007199254740993"`,
      );
    }
  }
  throw new ServingError('INVALID_ENTITY_KEY', `entity row ${row}: join key '${key.name}' is ${key.type}, got ${describe(value)}`);
}

/** A decimal string as the int64 it names: exact whatever its size, refused outside int64's range. */
function int64FromString(value: string, name: string, row: number): bigint {
  if (!DECIMAL.test(value)) {
    throw new ServingError('INVALID_ENTITY_KEY', `entity row ${row}: join key '${name}' is int64, got ${describe(value)} (not a decimal integer)`);
  }
  const parsed = BigInt(value);
  if (checkValue('int64', parsed) !== undefined) {
    throw new ServingError('INVALID_ENTITY_KEY', `entity row ${row}: join key '${name}' (int64) value ${value} is outside int64's range`);
  }
  return parsed;
}

function checkCount(count: number, maxEntities: number): void {
  if (count > maxEntities) {
    throw new ServingError('TOO_MANY_ENTITIES', `${count} entity rows in one request; the limit is ${maxEntities} (serving.maxEntities)`);
  }
}

function missingKey(name: string, plan: FeaturePlan, given: readonly string[], row?: number): ServingError {
  const needing = plan.views.filter((v) => v.view.entities.some((e) => e.joinKey === name)).map((v) => `'${v.view.name}'`);
  const where = row === undefined ? 'entities' : `entity row ${row}`;
  return new ServingError(
    'MISSING_JOIN_KEY',
    `${where}: missing join key '${name}' (needed by feature view ${needing.join(', ')}; given: ${quotedList(given) || 'none'})`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return `bigint ${value}`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `${typeof value} ${shown.length > 40 ? shown.slice(0, 37) + '...' : shown}`;
}
