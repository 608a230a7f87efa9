import type { RebuildInput } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { checkNotRetired } from './migration-context.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';

export interface RebuildStart {
  /** The generation being built (state 'building' in the registry, marked in Redis). */
  readonly generation: number;
  /** The generation serving reads now. */
  readonly previousGeneration: number;
  /** The partitions rebuild the commits up to this seq. */
  readonly upTo: number;
}

/**
 * Opens (or finds) the view's building generation, writes its marker, and fixes the commit
 * range the partitions rebuild. Repeating it returns the same generation.
 */
export function beginRebuild(deps: ActivityDeps) {
  return async function beginRebuild(input: RebuildInput): Promise<RebuildStart> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    await checkNotRetired(registry, input);
    const active = await registry.activeGeneration(input.view, input.version);
    const building = await registry.buildingGeneration(input.view, input.version);
    await deps.online.markGeneration(onlineTarget(input, view, building.generation));
    return { generation: building.generation, previousGeneration: active.generation, upTo: await registry.latestCommitSeq(input.view, input.version) };
  };
}
