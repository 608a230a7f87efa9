import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FeatureView } from '../definitions/feature-view.ts';
import { onlineTargetOf, type OnlineStore } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { workflowIds, type RebuildRequest, type ViewRef } from '../workflows/contracts.ts';
import type { rebuildOnlineWorkflow } from '../workflows/rebuild-online-workflow.ts';
import { rebuildStart, workflowTypes } from '../workflows/starters.ts';

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

export interface LossSettings {
  readonly taskQueue: string;
  readonly onRedisLoss: 'rebuild' | 'fail';
}

/**
 * With `online.onRedisLoss: rebuild`, asks for the view's rebuild as materialization does
 * (workflows/starters.ts rebuildStart), unless one is running already: a running
 * rebuild cuts over from the lost generation, and asking again could make it build twice.
 * 'off' with `fail`.
 *
 * @example
 *   await requestRebuildAfterLoss(client, { taskQueue: 'granary', onRedisLoss: 'rebuild' }, ref) // => 'started'
 */
export async function requestRebuildAfterLoss(client: Client, settings: LossSettings, ref: ViewRef): Promise<'started' | 'running' | 'off'> {
  if (settings.onRedisLoss !== 'rebuild') return 'off';
  try {
    if ((await client.workflow.getHandle(workflowIds.rebuild(ref)).describe()).status.name === 'RUNNING') return 'running';
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  await client.workflow.signalWithStart<typeof rebuildOnlineWorkflow, [RebuildRequest?]>(workflowTypes.rebuild, rebuildStart(ref, settings.taskQueue));
  return 'started';
}

/** Says the loss, after asking for the rebuild (requestRebuildAfterLoss); the sentence for the user. */
export async function reportLoss(
  client: Client,
  settings: LossSettings,
  ref: ViewRef,
  lost: LostGeneration,
): Promise<string> {
  const what =
    `online generation ${lost.generation} of feature view '${ref.view}' version ${ref.version} is gone from Redis ` +
    `(no marker, although commits up to ${lost.watermark} were materialized): Redis lost its data`;
  return `${what}; ${lossAction(await requestRebuildAfterLoss(client, settings, ref), ref)}`;
}

/** What was done about a loss, in words. */
export function lossAction(action: 'started' | 'running' | 'off', ref: ViewRef): string {
  switch (action) {
    case 'started':
      return `rebuild started (${workflowIds.rebuild(ref)}), the rows are online once it cuts over (granary status shows its progress)`;
    case 'running':
      return `a rebuild is running (${workflowIds.rebuild(ref)}), the rows are online once it cuts over (granary status shows its progress)`;
    case 'off':
      return `not rebuilding (online.onRedisLoss: fail): run granary rebuild-online ${ref.view}`;
  }
}
