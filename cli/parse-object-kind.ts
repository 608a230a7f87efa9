import { InvalidArgumentError } from 'commander';
import type { ObjectKind } from '../definitions/spec.ts';

const KIND_NAMES: Readonly<Record<string, ObjectKind>> = {
  entity: 'entity',
  entities: 'entity',
  source: 'source',
  sources: 'source',
  view: 'featureView',
  views: 'featureView',
  featureview: 'featureView',
  featureviews: 'featureView',
  service: 'featureService',
  services: 'featureService',
  featureservice: 'featureService',
  featureservices: 'featureService',
};

/**
 * Parses a kind as users type it (`entity`, `source`, `view`, `feature-view`, `featureView`,
 * `service`, `feature_service`, plurals too); a commander argument parser.
 *
 * @example
 *   parseObjectKind('feature-view') // => 'featureView'
 */
export function parseObjectKind(text: string): ObjectKind {
  const kind = KIND_NAMES[text.toLowerCase().replace(/[-_\s]/g, '')];
  if (!kind) throw new InvalidArgumentError('expected entity, source, view (feature-view) or service (feature-service).');
  return kind;
}
