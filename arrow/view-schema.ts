import {
  Binary,
  Bool,
  Field,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  Schema,
  TimestampMillisecond,
  Utf8,
  type DataType,
} from 'apache-arrow';
import type { FeatureView } from '../definitions/feature-view.ts';
import { parseValueType, type ScalarType, type ValueType } from '../definitions/value-type.ts';

/**
 * The shape of a view's offline rows: join keys (in entity order), the event timestamp, the
 * created timestamp when the source has one, then the features in schema order. Timestamps are
 * milliseconds, UTC. Join-key fields carry the metadata `granary.join_key: 'true'`, which the
 * Parquet writer reads to dictionary-encode them.
 *
 * @example
 *   viewSchema(userSpend).fields.map((f) => `${f.name}: ${f.type}`)
 *   // => ['user_id: Utf8', 'event_timestamp: Timestamp<MILLISECOND, UTC>',
 *   //     'created_timestamp: Timestamp<MILLISECOND, UTC>', 'spend_7d_avg: Float32', 'txn_count_7d: Int64']
 */
export type ColumnRole = 'joinKey' | 'eventTimestamp' | 'createdTimestamp' | 'feature';

export interface ViewColumn {
  readonly name: string;
  readonly type: ValueType;
  readonly role: ColumnRole;
  readonly nullable: boolean;
  /** Features only: NaN and infinities are valid values (Feature.allowNonFinite). */
  readonly allowNonFinite?: boolean;
}

export const JOIN_KEY_METADATA = 'granary.join_key';

/** The columns of a view's offline rows, in schema order. */
export function viewColumns(view: FeatureView): readonly ViewColumn[] {
  const columns: ViewColumn[] = view.entities.map((e) => ({ name: e.joinKey, type: e.valueType, role: 'joinKey', nullable: false }));
  columns.push({ name: view.source.eventTimestampColumn, type: 'timestamp', role: 'eventTimestamp', nullable: false });
  if (view.source.createdTimestampColumn) {
    columns.push({ name: view.source.createdTimestampColumn, type: 'timestamp', role: 'createdTimestamp', nullable: true });
  }
  for (const f of view.features) {
    columns.push({ name: f.name, type: f.type, role: 'feature', nullable: f.nullable, ...(f.allowNonFinite ? { allowNonFinite: true } : {}) });
  }
  return columns;
}

export function viewSchema(view: FeatureView): Schema {
  return new Schema(viewColumns(view).map(fieldOf));
}

export function fieldOf(column: ViewColumn): Field {
  const metadata = column.role === 'joinKey' ? new Map([[JOIN_KEY_METADATA, 'true']]) : undefined;
  return new Field(column.name, arrowTypeOf(column.type), column.nullable, metadata);
}

/** The Arrow type of a value type; list elements are nullable and named 'item'. */
export function arrowTypeOf(type: ValueType): DataType {
  const parsed = parseValueType(type);
  if (!parsed) throw new Error(`unknown value type '${type}'`);
  const scalar = scalarArrowType(parsed.scalar);
  return parsed.list ? new List(new Field('item', scalar, true)) : scalar;
}

function scalarArrowType(type: ScalarType): DataType {
  switch (type) {
    case 'bool':
      return new Bool();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float32':
      return new Float32();
    case 'float64':
      return new Float64();
    case 'string':
      return new Utf8();
    case 'bytes':
      return new Binary();
    case 'timestamp':
      return new TimestampMillisecond('UTC');
  }
}
