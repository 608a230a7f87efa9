import type { Client } from '@temporalio/client';
import { requestRebuild } from '../activities/request-rebuild.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import { onlineTargetOf, type OnlineStore } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { workflowIds, type ViewRef } from '../workflows/contracts.ts';

/** The active generation Redis lost: its marker is gone though commits up to `watermark` were materialized. */
export interface LostGeneration {
  readonly generation: number;
  readonly watermark: number;
}

/**
 * Whether Redis lost the view's active online generation (stores/online/key-layout.ts: the
 * marker), as materialization decides it: no marker and a watermark above zero. Null when Redis
 * holds it (or nothing was materialized yet).
 *
 * @example
 *   await lostGeneration(registry, online, 'fraud', view) // => { generation: 2, watermark: 41 } after a FLUSHALL
 */
export async function lostGeneration(
  registry: Pick<Registry, 'activeGeneration' | 'watermark'>,
  online: Pick<OnlineStore, 'hasGenerationMarker'>,
  project: string,
  view: FeatureView,
): Promise<LostGeneration | null> {
  const { generation } = await registry.activeGeneration(view.name, view.version);
  if (await online.hasGenerationMarker(onlineTargetOf(project, view, generation))) return null;
  const watermark = await registry.watermark(view.name, view.version, generation);
  return watermark > 0 ? { generation, watermark } : null;
}

/**
 * Says the loss and, with `online.onRedisLoss: rebuild`, starts the view's rebuild through the
 * path materialization uses (activities/request-rebuild.ts: idempotent on the workflow id).
 * Returns the sentence for the user.
 */
export async function reportLoss(
  client: Client,
  settings: { readonly taskQueue: string; readonly onRedisLoss: 'rebuild' | 'fail' },
  ref: ViewRef,
  lost: LostGeneration,
): Promise<string> {
  const what =
    `online generation ${lost.generation} of feature view '${ref.view}' version ${ref.version} is gone from Redis ` +
    `(no marker, although commits up to ${lost.watermark} were materialized): Redis lost its data`;
  const started = await requestRebuild({ onRedisLoss: settings.onRedisLoss, temporal: { client, taskQueue: settings.taskQueue } })(ref);
  return started
    ? `${what}; rebuild started (${workflowIds.rebuild(ref)}), the rows are online once it cuts over (granary status shows its progress)`
    : `${what}; not rebuilding (online.onRedisLoss: fail): run granary rebuild-online ${ref.view}`;
}
