import { ApplicationFailure } from '@temporalio/activity';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import { onlineTargetOf, type OnlineTarget } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { failureTypes, type ViewRef } from '../workflows/contracts.ts';

export interface RegisteredView {
  readonly view: FeatureView;
  readonly schemaVersion: number;
}

/** The applied definition of a view version, or a non-retryable failure naming it. */
export async function registeredView(registry: Registry, ref: ViewRef): Promise<RegisteredView> {
  const object = await registry.getObject('featureView', ref.view, ref.version);
  if (!object || object.version !== ref.version) {
    throw ApplicationFailure.nonRetryable(
      `feature view '${ref.view}' version ${ref.version} is not in the registry of project '${ref.project}' (run granary apply)`,
      failureTypes.unknownView,
    );
  }
  if (object.status === 'removed') {
    throw ApplicationFailure.nonRetryable(
      `feature view '${ref.view}' version ${ref.version} was removed from project '${ref.project}' (it is no longer in the feature repo)`,
      failureTypes.unknownView,
    );
  }
  return { view: featureViewFromSpec(object.spec), schemaVersion: object.schemaVersion };
}

export function onlineTarget(ref: ViewRef, view: FeatureView, generation: number): OnlineTarget {
  return { ...onlineTargetOf(ref.project, view, generation), view: ref.view, version: ref.version };
}
