import type { Client } from '@temporalio/client';
import type { FeatureRepo } from '../definitions/feature-repo.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { OnlineStore } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';

/** What activities act on: the three stores, and a Temporal client to hand work to other workflows. */
export interface ActivityDeps {
  /** The registry of one project (cached by the caller). */
  readonly registry: (project: string) => Registry;
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly temporal: { readonly client: Client; readonly taskQueue: string };
  /** What materialization does when Redis lost a generation: start a rebuild, or fail and say so. */
  readonly onRedisLoss: 'rebuild' | 'fail';
  /**
   * Committed rows with an event or created time later than their commit's time + this skew are
   * refused by materialization, rebuild and verify (pipelines/future-event-time.ts); the
   * setting ingest.maxFutureSkew, one hour when absent.
   */
  readonly maxFutureSkewMs?: number;
  /**
   * The feature repo the worker was started with (`granary worker --repo DIR`), loaded on first
   * use: only migrations with a TypeScript transform need it.
   */
  readonly featureRepo?: { readonly dir: string; load(): Promise<FeatureRepo> };
}
