import type { ObjectKind } from '../../definitions/spec.ts';

/** How each kind reads in messages. */
export const KIND_LABELS: Readonly<Record<ObjectKind, string>> = {
  entity: 'entity',
  source: 'source',
  featureView: 'feature view',
  featureService: 'feature service',
};

/**
 * An object as messages name it; views with their version.
 *
 * @example
 *   objectLabel({ kind: 'featureView', name: 'user_spend', version: 2 }) // => "feature view 'user_spend' version 2"
 */
export function objectLabel(object: { readonly kind: ObjectKind; readonly name: string; readonly version: number }): string {
  const base = `${KIND_LABELS[object.kind]} '${object.name}'`;
  return object.kind === 'featureView' ? `${base} version ${object.version}` : base;
}
