import type { FeatureViewSpec } from '../definitions/spec.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Registry } from '../stores/registry/registry.ts';

/**
 * Offline garbage: objects of a project that no commit names (a write whose commit never came:
 * a crash between the two) and staged batches. Only objects older than the grace period go, so
 * an ingestion in flight is never touched; committed objects are never removed, nor the runs of
 * a recorded snapshot (view-snapshots.ts) still usable or made unusable within the grace period
 * (a rebuild that planned with it may still read it).
 *
 * @example
 *   await collectOfflineGarbage({ registry, offline }, 'fraud', { graceSeconds: 86_400 })
 *   // => { scanned: 120, committed: 117, removed: ['fraud/_staging/...'], kept: 0 }
 */
export interface GarbageReport {
  readonly scanned: number;
  readonly committed: number;
  readonly removed: readonly string[];
  /** Uncommitted but younger than the grace period. */
  readonly kept: number;
  readonly dryRun: boolean;
}

export async function collectOfflineGarbage(
  stores: { registry: Registry; offline: OfflineStore },
  project: string,
  options: { graceSeconds: number; dryRun?: boolean; now?: number },
): Promise<GarbageReport> {
  const committedKeys = new Set<string>();
  for (const view of await stores.registry.listObjects('featureView', { includeRemoved: true })) {
    const spec = view.spec as FeatureViewSpec;
    for (const commit of await stores.registry.commits(spec.name, spec.version)) {
      for (const object of commit.objects) committedKeys.add(object.key);
    }
  }
  const cutoff = (options.now ?? Date.now()) - options.graceSeconds * 1000;
  const snapshotPrefixes = (await stores.registry.snapshots({ invalidatedSince: new Date(cutoff) })).map((s) => s.prefix);
  const inSnapshot = (key: string) => snapshotPrefixes.some((prefix) => key.startsWith(prefix));
  const removed: string[] = [];
  let scanned = 0;
  let committed = 0;
  let kept = 0;
  for await (const object of stores.offline.list(`${project}/`)) {
    scanned += 1;
    if (committedKeys.has(object.key) || inSnapshot(object.key)) committed += 1;
    else if (object.lastModified.getTime() > cutoff) kept += 1;
    else {
      if (!options.dryRun) await stores.offline.delete(object.key);
      removed.push(object.key);
    }
  }
  return { scanned, committed, removed, kept, dryRun: options.dryRun === true };
}
