/**
 * Granary's public API: the definition language, and the SDK (`FeatureStore`) with the types
 * of its options and results. A feature repo needs only the definition language: its
 * `import ... from 'granary'` resolves to definitions/index.ts (feature-repo-hooks.mjs), also
 * importable as 'granary/definitions'.
 *
 * @example
 *   import { FeatureStore } from 'granary';
 *   const store = await FeatureStore.open({ repoDir: 'definitions/examples/fraud' });
 */
export * from './definitions/index.ts';
export { FeatureStore, type MaterializeOptions, type PushOptions } from './sdk/feature-store.ts';
export { ConfigError, type GranaryConfig, type LoadConfigOptions } from './config/granary-config.ts';
export type { BatchInput, BatchRow } from './ingest/batch-validation.ts';
export type { VerifyReport } from './pipelines/verify-view.ts';
export type { HistoricalFeaturesOptions } from './retrieval/plan-historical-retrieval.ts';
export type { HistoricalOutput } from './retrieval/historical-join.ts';
export type { RepairReport } from './sdk/entity-repair.ts';
export type { RebuildHandle, RebuildOnlineOptions } from './sdk/online-rebuild.ts';
export type { MigrateOptions, MigrationHandle } from './sdk/view-migration.ts';
export type { ViewStatus } from './sdk/view-status.ts';
export type { OnlineFeaturesRequest, OnlineFeaturesResult } from './serving/online-features.ts';
export type { ViewMigrationRecord } from './stores/registry/view-migrations.ts';
export type { IngestResult, MaterializeProgress, MigrationProgress, RebuildProgress, ViewRef } from './workflows/contracts.ts';
