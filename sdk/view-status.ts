import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FeatureView } from '../definitions/feature-view.ts';
import { onlineTargetOf, type OnlineStore, type OnlineTarget } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { Generation } from '../stores/registry/generations.ts';
import { rebuildProgressQuery, workflowIds, type RebuildProgress, type ViewRef } from '../workflows/contracts.ts';

/** What `granary status` shows for one view version. */
export interface ViewStatus extends ViewRef {
  readonly activeGeneration: number;
  /** A generation a rebuild is filling, if any. */
  readonly buildingGeneration?: number;
  readonly watermark: number;
  readonly latestSeq: number;
  /** When the active generation's watermark last moved: the last materialization that applied something. */
  readonly lastMaterializedAt?: Date;
  /** When the active generation became active (the last cut-over, for a rebuilt one). */
  readonly activeSince?: Date;
  /** The running rebuild's progress, or the state of the last one. */
  readonly rebuild?: { readonly status: string; readonly progress?: RebuildProgress };
  /** The newest event time online (the greatest event time of the commits up to the watermark). */
  readonly newestEventTime?: Date;
  readonly ttlSeconds: number;
  /** The newest online row is older than the TTL: every entity reads as OUTSIDE_MAX_AGE. */
  readonly stale: boolean;
  /**
   * What Redis itself says of the active generation, from its marker: `ok`; `lost` (the marker is
   * gone though commits were applied: Redis lost the data, a rebuild is needed); `behind` (Redis
   * came back from an older snapshot: materialization re-applies the commits after `onlineApplied`);
   * `unreachable` (Redis did not answer).
   */
  readonly online: 'ok' | 'lost' | 'behind' | 'unreachable';
  /** The last commit Redis's marker records as applied; null when the marker is gone or Redis is unreachable. */
  readonly onlineApplied: number | null;
}

/**
 * Per view: active generation, watermark against the latest commit, last materialization, last
 * rebuild, and freshness against the TTL.
 *
 * @example
 *   await viewStatus(registry, online, client, 'fraud', view) // => { activeGeneration: 2, watermark: 41, latestSeq: 41, stale: false, online: 'ok', ... }
 */
export async function viewStatus(
  registry: Registry,
  online: Pick<OnlineStore, 'appliedSeq'>,
  client: Client,
  project: string,
  view: FeatureView,
  now = Date.now(),
): Promise<ViewStatus> {
  const ref: ViewRef = { project, view: view.name, version: view.version };
  const active = await registry.activeGeneration(view.name, view.version);
  const generations = await registry.generations(view.name, view.version);
  const current = generations.find((g: Generation) => g.generation === active.generation);
  const watermark = current?.watermark ?? 0;
  const newest = await registry.newestEventTime(view.name, view.version, watermark);
  const building = generations.find((g) => g.state === 'building');
  return {
    ...ref,
    activeGeneration: active.generation,
    ...(building ? { buildingGeneration: building.generation } : {}),
    watermark,
    latestSeq: await registry.latestCommitSeq(view.name, view.version),
    ...(current?.watermarkUpdatedAt ? { lastMaterializedAt: current.watermarkUpdatedAt } : {}),
    ...(active.activatedAt ? { activeSince: active.activatedAt } : {}),
    ...(await lastRebuild(client, ref)),
    ...(newest ? { newestEventTime: newest } : {}),
    ttlSeconds: view.ttlSeconds,
    stale: view.ttlSeconds > 0 && (!newest || now - newest.getTime() > view.ttlSeconds * 1000),
    ...(await onlineHealth(online, onlineTargetOf(project, view, active.generation), watermark)),
  };
}

async function onlineHealth(online: Pick<OnlineStore, 'appliedSeq'>, target: OnlineTarget, watermark: number): Promise<Pick<ViewStatus, 'online' | 'onlineApplied'>> {
  const applied = await online.appliedSeq(target).catch(() => undefined);
  if (applied === undefined) return { online: 'unreachable', onlineApplied: null };
  if (applied === null) return { online: watermark > 0 ? 'lost' : 'ok', onlineApplied: null };
  return { online: applied < watermark ? 'behind' : 'ok', onlineApplied: applied };
}

async function lastRebuild(client: Client, ref: ViewRef): Promise<Pick<ViewStatus, 'rebuild'>> {
  const handle = client.workflow.getHandle(workflowIds.rebuild(ref));
  try {
    const status = (await handle.describe()).status.name;
    const progress = await handle.query(rebuildProgressQuery).catch(() => undefined);
    return { rebuild: { status, ...(progress ? { progress } : {}) } };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return {};
    throw error;
  }
}
