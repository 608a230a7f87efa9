import { Table } from 'apache-arrow';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { MigrationMapping, MigrationRow } from '../definitions/view-migration.ts';
import type { ValueType } from '../definitions/value-type.ts';
import { BatchValidationError } from '../ingest/batch-validation-error.ts';
import { toViewTable } from '../ingest/batch-validation.ts';
import { tableToOnlineRows } from './row-conversion.ts';
import { coerceValue, describe, Invalid, type CoerceOptions } from '../ingest/value-coercion.ts';

/**
 * Rewrites rows of one version of a view (an Arrow table in its schema) to a later version's
 * schema, following a checked migration mapping (definitions/view-migration.ts): renames, exact
 * casts, then the optional TypeScript transform; the result is validated like an ingested batch.
 * A value that does not convert, a transform that throws or returns a bad row, stop it with a
 * MigrationRowError naming the object, the row (1-based within the object) and the value.
 *
 * @example
 *   migrateTable({ from: v1, to: v2, mapping, transform: null, table, objectKey: 'p/v/v1/date=2024-05-01/b.parquet', rowBase: 0 })
 *   // => a table in v2's schema, same number of rows
 */
export class MigrationRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationRowError';
  }
}

export interface MigrateTableInput {
  readonly from: FeatureView;
  readonly to: FeatureView;
  readonly mapping: MigrationMapping;
  readonly transform: ((row: MigrationRow) => MigrationRow) | null;
  readonly table: Table;
  /** The source object, for messages. */
  readonly objectKey: string;
  /** Rows of the object before this table (row groups read before), for 1-based row numbers in messages. */
  readonly rowBase: number;
}

export function migrateTable(input: MigrateTableInput): Table {
  const { from, to, mapping, transform, objectKey, rowBase } = input;
  const where = `migration of feature view '${to.name}' from version ${mapping.from} to ${mapping.to}, object '${objectKey}'`;
  const timestampFeatures = new Set(from.features.filter((f) => f.type === 'timestamp').map((f) => f.name));
  const nonFiniteAllowed = new Set(to.features.filter((f) => f.allowNonFinite).map((f) => f.name));
  const rows = tableToOnlineRows(from, input.table);
  const out: MigrationRow[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const source: Record<string, unknown> = {};
    from.entities.forEach((e, k) => (source[e.joinKey] = row.entityKey[k]));
    source[from.source.eventTimestampColumn] = new Date(row.eventTime);
    if (from.source.createdTimestampColumn) source[from.source.createdTimestampColumn] = row.createdTime ? new Date(row.createdTime) : null;
    for (const [name, value] of Object.entries(row.values)) {
      source[name] = value !== null && timestampFeatures.has(name) ? new Date(value as number) : value;
    }
    let target: MigrationRow = {};
    for (const c of mapping.columns) {
      const value = c.source === null ? null : (source[c.source] ?? null);
      if (value === null || !c.cast) {
        target[c.column] = value;
        continue;
      }
      const cast = castValue(c.type, value, { allowNonFinite: nonFiniteAllowed.has(c.column) });
      if (cast instanceof Invalid) {
        const renamed = c.source === c.column ? `'${c.column}'` : `'${c.source}' (now '${c.column}')`;
        throw new MigrationRowError(
          `${where}, row ${rowBase + i + 1}, column ${renamed}: value ${describe(value)} does not convert from ${c.sourceType} to ${c.type}: ${cast.message}`,
        );
      }
      target[c.column] = cast;
    }
    if (transform) {
      try {
        target = transform(target);
      } catch (error) {
        throw new MigrationRowError(`${where}, row ${rowBase + i + 1}: migrateFrom.transform threw on ${showRow(target)}: ${(error as Error).message ?? String(error)}`);
      }
      if (typeof target !== 'object' || target === null || Array.isArray(target)) {
        throw new MigrationRowError(`${where}, row ${rowBase + i + 1}: migrateFrom.transform must return a row object, got ${describe(target)}`);
      }
    }
    out[i] = target;
  }
  try {
    // Every column of the new version is set above (null when it has no source), so a missing one
    // can only come from the transform, whose nulls are its choice. Event times were checked when
    // the rows were committed (future-event-time.ts decides for rows committed before that check).
    const options = { allowMissingFeatures: true, maxFutureSkewMs: Infinity };
    return rows.length === 0 ? toViewTable(to, [], options) : toViewTable(to, out, options);
  } catch (error) {
    if (!(error instanceof BatchValidationError)) throw error;
    const problems = error.problems
      .slice(0, 5)
      .map((p) => `${p.row === null ? '' : `row ${rowBase + p.row}, `}${p.column === null ? '' : `column '${p.column}': `}${p.message}`);
    throw new MigrationRowError(`${where}: the migrated rows do not fit version ${mapping.to} (${error.problemCount} problem(s)): ${problems.join('; ')}`);
  }
}

/** Rows of several tables of one schema as one table. */
export function concatTables(tables: readonly Table[]): Table {
  return tables.length === 1 ? tables[0]! : new Table(tables.flatMap((t) => t.batches));
}

/**
 * Exact conversion to the declared type: to string, any scalar's text; otherwise as ingestion
 * parses values (a float that does not fit, 1e39 into float32, is refused, as is NaN or an
 * infinity unless the new version's feature declares allowNonFinite).
 */
function castValue(type: ValueType, value: unknown, options: CoerceOptions): unknown {
  if (type === 'string' && typeof value !== 'string') {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  }
  if (type === 'timestamp' && value instanceof Date) return value;
  return coerceValue(type, value, options);
}

function showRow(row: MigrationRow): string {
  const text = Object.entries(row)
    .map(([k, v]) => `${k}: ${v instanceof Date ? v.toISOString() : describe(v)}`)
    .join(', ');
  return `{ ${text.length > 200 ? `${text.slice(0, 200)}...` : text} }`;
}
