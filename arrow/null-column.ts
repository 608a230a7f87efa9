import type { Data } from 'apache-arrow';
import { buildColumn } from './build-column.ts';
import type { ViewColumn } from './view-schema.ts';

/**
 * A column of nulls of a view column's type, for a nullable column the input (or an older
 * object) lacks.
 *
 * @example
 *   nullColumn({ name: 'spend', type: 'float64', role: 'feature', nullable: true }, 3).nullCount // => 3
 */
export function nullColumn(column: ViewColumn, length: number): Data {
  return buildColumn(column.type, new Array<null>(length).fill(null));
}
