import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes, type ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { withHeartbeat } from './heartbeat.ts';
import { redisDataLost } from './prepare-materialization.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';
import { verifyView, type VerifyReport } from '../pipelines/verify-view.ts';

export interface GenerationInput extends ViewRef {
  readonly generation: number;
}

/**
 * After every partition is written: the generation holds the commits up to `upTo`. Recorded in
 * Redis (the marker's applied seq) first, then as the generation's watermark in the registry.
 */
export function markRebuiltUpTo(deps: ActivityDeps) {
  return async function markRebuiltUpTo(input: GenerationInput & { readonly upTo: number }): Promise<number> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    if ((await deps.online.recordApplied(onlineTarget(input, view, input.generation), input.upTo)) === null) {
      throw redisDataLost(input, input.generation, input.upTo);
    }
    return registry.advanceWatermark(input.view, input.version, input.generation, input.upTo);
  };
}

export interface GenerationCheck {
  readonly watermark: number;
  readonly matching: number;
  readonly expired: number;
  readonly ahead: number;
}

/** Verify (pipelines/verify-view.ts) on the generation being built; any divergence stops the rebuild before the cut-over. */
export function verifyGeneration(deps: ActivityDeps) {
  return async function verifyGeneration(input: GenerationInput): Promise<GenerationCheck> {
    const registry = deps.registry(input.project);
    const report = await withHeartbeat(() => verifyView({ registry, offline: deps.offline, online: deps.online }, input, { generation: input.generation, ...(deps.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: deps.maxFutureSkewMs }) }));
    if (!report.ok) throw await divergedGeneration(deps, input, report);
    return { watermark: report.watermark, matching: report.matching, expired: report.expired, ahead: report.ahead };
  };
}

/**
 * What a verify that found the generation diverged throws: RedisDataLost when its marker is gone
 * too (Redis lost the generation while it was checked; the rebuild starts over), RebuildDiverged
 * (not cut over) otherwise.
 */
export async function divergedGeneration(deps: ActivityDeps, input: GenerationInput, report: VerifyReport): Promise<ApplicationFailure> {
  const { view } = await registeredView(deps.registry(input.project), input);
  if ((await deps.online.appliedSeq(onlineTarget(input, view, input.generation))) === null) return redisDataLost(input, input.generation, report.watermark);
  return ApplicationFailure.nonRetryable(
    `rebuilt generation ${input.generation} of feature view '${input.view}' v${input.version} disagrees with the offline store ` +
      `(${report.missing} missing, ${report.stale} stale, ${report.extra} extra); it is not cut over, generation reads stay on the old one. ` +
      `Examples: ${report.examples.slice(0, 3).join('; ')}`,
    failureTypes.rebuildDiverged,
  );
}

/** The atomic cut-over: serving reads the new generation from the next look-up on. */
export function cutOver(deps: ActivityDeps) {
  return async function cutOver(input: GenerationInput): Promise<void> {
    await deps.registry(input.project).activateGeneration(input.view, input.version, input.generation);
  };
}

/**
 * Deletes the keys of the view's retired generations (those up to `upToGeneration` when given:
 * a later one is still in its own grace period), then records them as dropped. Returns the keys deleted.
 */
export function dropRetiredGenerations(deps: ActivityDeps) {
  return async function dropRetiredGenerations(ref: ViewRef & { readonly upToGeneration?: number }): Promise<number> {
    const registry = deps.registry(ref.project);
    const { view } = await registeredView(registry, ref);
    let dropped = 0;
    for (const g of await registry.generations(ref.view, ref.version)) {
      if (g.state !== 'retired' || (ref.upToGeneration !== undefined && g.generation > ref.upToGeneration)) continue;
      dropped += await withHeartbeat(() => deps.online.dropGeneration(onlineTarget(ref, view, g.generation)));
      await registry.markGenerationDropped(ref.view, ref.version, g.generation);
    }
    return dropped;
  };
}
