import { ApplicationFailure, log } from '@temporalio/activity';
import { failureTypes, type ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { checkNotRetired } from './migration-context.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';

export interface MaterializationStart {
  readonly generation: number;
  /** Where to resume: the registry's watermark, or lower when Redis came back from an older snapshot. */
  readonly watermark: number;
  readonly latestSeq: number;
}

/**
 * Finds the active online generation and its watermark, and checks that Redis still holds the
 * generation: a watermark above zero with no generation marker means Redis lost its data, and
 * the watermark must not be trusted (a rebuild is needed, not an increment). A marker whose
 * applied seq is below the watermark (Redis restored an older snapshot) resumes from it.
 */
export function prepareMaterialization(deps: ActivityDeps) {
  return async function prepareMaterialization(ref: ViewRef): Promise<MaterializationStart> {
    const registry = deps.registry(ref.project);
    const { view } = await registeredView(registry, ref);
    // A version retired by a migration has no online keys any more, on purpose: not a Redis loss.
    await checkNotRetired(registry, ref);
    const { generation } = await registry.activeGeneration(ref.view, ref.version);
    const watermark = await registry.watermark(ref.view, ref.version, generation);
    const target = onlineTarget(ref, view, generation);
    let applied = await deps.online.appliedSeq(target);
    if (applied === null) {
      if (watermark > 0) throw redisDataLost(ref, generation, watermark);
      await deps.online.markGeneration(target);
      applied = 0;
    }
    if (applied < watermark) {
      log.warn(
        `online generation ${generation} of '${ref.view}' v${ref.version} holds commits up to ${applied}, the watermark is ${watermark}: ` +
          `Redis came back from an older snapshot; applying the commits after ${applied} again`,
      );
    }
    return { generation, watermark: Math.min(applied, watermark), latestSeq: await registry.latestCommitSeq(ref.view, ref.version) };
  };
}

export function redisDataLost(ref: ViewRef, generation: number, watermark: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `online generation ${generation} of feature view '${ref.view}' version ${ref.version} (project '${ref.project}') ` +
      `has no marker in Redis although commits up to ${watermark} were materialized: Redis lost its data. ` +
      `Its watermark cannot be trusted; rebuild the online store for this view.`,
    failureTypes.redisDataLost,
  );
}
