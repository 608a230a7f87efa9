import type { ActivityDeps } from './activity-deps.ts';
import { applyCommit } from './apply-commit.ts';
import { applyCommits } from './apply-commits.ts';
import { backfillMigration } from './backfill-migration.ts';
import { beginRebuild } from './begin-rebuild.ts';
import { buildPartition } from './build-partition.ts';
import { commitBatch } from './commit-batch.ts';
import { compactPartition, planCompaction, recordSnapshot } from './compact-view.ts';
import { cutOver, dropRetiredGenerations, markRebuiltUpTo, verifyGeneration } from './finish-rebuild.ts';
import { latestCommitSeq, pendingCommits } from './pending-commits.ts';
import { migrateCommit, migrationTargets } from './migrate-commit.ts';
import {
  beginMigration,
  failMigration,
  pinnedServices,
  removeOldOnlineKeys,
  rollBackMigration,
  switchServices,
  verifyMigration,
} from './migration-steps.ts';
import { dropRebuildRuns, planRebuild, planVerify } from './plan-rebuild.ts';
import { prepareMaterialization } from './prepare-materialization.ts';
import { rebuildPartition } from './rebuild-partition.ts';
import { materializationState, requestMaterialization } from './request-materialization.ts';
import { requestRebuild } from './request-rebuild.ts';
import { scatterSlice } from './scatter-slice.ts';
import { finishVerify, reportVerify, verifyPartition } from './verify-partition.ts';
import { dropHistoricalRun, joinHistoricalPartitionActivity, mergeHistorical, planHistorical } from './historical-steps.ts';
import { writeBatchObjects } from './write-batch-objects.ts';

export type { ActivityDeps } from './activity-deps.ts';

/** Every activity of the Granary worker, bound to its stores. Workflows import this module's type only. */
export function createActivities(deps: ActivityDeps) {
  return {
    writeBatchObjects: writeBatchObjects(deps),
    commitBatch: commitBatch(deps),
    prepareMaterialization: prepareMaterialization(deps),
    pendingCommits: pendingCommits(deps),
    latestCommitSeq: latestCommitSeq(deps),
    applyCommit: applyCommit(deps),
    applyCommits: applyCommits(deps),
    requestMaterialization: requestMaterialization(deps),
    materializationState: materializationState(deps),
    requestRebuild: requestRebuild(deps),
    beginRebuild: beginRebuild(deps),
    rebuildPartition: rebuildPartition(deps),
    planRebuild: planRebuild(deps),
    planVerify: planVerify(deps),
    scatterSlice: scatterSlice(deps),
    buildPartition: buildPartition(deps),
    dropRebuildRuns: dropRebuildRuns(deps),
    planCompaction: planCompaction(deps),
    compactPartition: compactPartition(deps),
    recordSnapshot: recordSnapshot(deps),
    verifyPartition: verifyPartition(deps),
    finishVerify: finishVerify(deps),
    reportVerify: reportVerify(deps),
    markRebuiltUpTo: markRebuiltUpTo(deps),
    verifyGeneration: verifyGeneration(deps),
    cutOver: cutOver(deps),
    dropRetiredGenerations: dropRetiredGenerations(deps),
    migrationTargets: migrationTargets(deps),
    migrateCommit: migrateCommit(deps),
    beginMigration: beginMigration(deps),
    backfillMigration: backfillMigration(deps),
    verifyMigration: verifyMigration(deps),
    switchServices: switchServices(deps),
    pinnedServices: pinnedServices(deps),
    removeOldOnlineKeys: removeOldOnlineKeys(deps),
    failMigration: failMigration(deps),
    rollBackMigration: rollBackMigration(deps),
    planHistorical: planHistorical(deps),
    joinHistoricalPartition: joinHistoricalPartitionActivity(deps),
    mergeHistorical: mergeHistorical(deps),
    dropHistoricalRun: dropHistoricalRun(deps),
  };
}
