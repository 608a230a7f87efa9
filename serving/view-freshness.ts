import type { FeatureView } from '../definitions/feature-view.ts';
import type { CommitLog } from '../stores/registry/commit-log.ts';
import type { Watermarks } from '../stores/registry/watermarks.ts';

/**
 * How fresh each online view is, from the registry alone (no Redis scan): the watermark of its
 * active generation (the last commit whose rows are in Redis), when that commit was made, and
 * the newest event time committed up to it, which is the event time of the newest online row
 * (online = f(offline) up to the watermark). Three small registry queries per view.
 *
 * @example
 *   const freshness = new ViewFreshness(registry);
 *   await freshness.update([view], (v) => generations.get(v.name, v.version));
 *   // => [{ view: 'driver_stats', version: 1, generation: 1, watermark: 42,
 *   //       watermarkCommittedAt: 1735689600000, newestEventTime: 1735686000000 }]
 */
export interface ViewFreshnessFigures {
  readonly view: string;
  readonly version: number;
  readonly generation: number;
  readonly watermark: number;
  /** When the watermark's commit was made (ms), or null when nothing is materialized. */
  readonly watermarkCommittedAt: number | null;
  /** The newest event time (ms) committed up to the watermark, or null when none. */
  readonly newestEventTime: number | null;
}

export class ViewFreshness {
  constructor(private readonly registry: Pick<CommitLog & Watermarks, 'watermark' | 'commits' | 'newestEventTime'>) {}

  async update(views: readonly FeatureView[], generationOf: (view: FeatureView) => Promise<number> | number): Promise<ViewFreshnessFigures[]> {
    return Promise.all(views.map((view) => this.updateView(view, generationOf)));
  }

  private async updateView(view: FeatureView, generationOf: (view: FeatureView) => Promise<number> | number): Promise<ViewFreshnessFigures> {
    const generation = await generationOf(view);
    const watermark = await this.registry.watermark(view.name, view.version, generation);
    if (watermark === 0) return { view: view.name, version: view.version, generation, watermark, watermarkCommittedAt: null, newestEventTime: null };
    const [commits, newest] = await Promise.all([
      this.registry.commits(view.name, view.version, { after: watermark - 1, upTo: watermark, limit: 1 }),
      this.registry.newestEventTime(view.name, view.version, watermark),
    ]);
    return {
      view: view.name,
      version: view.version,
      generation,
      watermark,
      watermarkCommittedAt: commits[0]?.committedAt.getTime() ?? null,
      newestEventTime: newest?.getTime() ?? null,
    };
  }
}
