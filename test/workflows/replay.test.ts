// granary-test: no-stack
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { readHistoryFile } from '../support/workflow-history.ts';
import { workflowBundlePath } from '../../scripts/worker-process.ts';

/**
 * Replay: recorded runs of the ingest, materialize, migrate, scheduled-materialize and historical workflows
 * must replay on the current workflow code without a nondeterminism error, so that a change that
 * breaks runs in flight fails here (the rebuild and retire workflows have theirs in
 * test/pipelines/rebuild-replay.test.ts). The histories were fetched from real runs of the
 * integration tests on the local stack (histories/fetch-histories.ts), before the materialize and
 * rebuild workflows' shared apply loop (workflows/apply-pending-commits.ts) replaced their copies:
 *
 * - materialize-two-commits: two commits applied, one more lookup, a 1 s wait for signals, done;
 * - materialize-signalled-rechecked: signals during the run, so after its wait it checks Redis
 *   again (the `patched('recheck-redis-on-request')` side) and looks up commits once more;
 * - ingest-materialized: write, commit, then materialization up to the commit, polled;
 * - migrate-view-completed: begin, backfill, materialize, verify, switch, wait for pinned
 *   services, removal of the old keys;
 * - scheduled-materialize: a schedule's run asking the view's materialization and waiting for it;
 * - materialize-commit-batches: seven pending commits applied by one applyCommits call
 *   (`patched('apply-commit-batches')`); the older histories replay on the per-commit side;
 * - ingest-request-first: the commit handed to materialization at once, then polled
 *   (`patched('request-materialization-first')`; ingest-materialized replays the older side);
 * - monitor-scheduled-freshness-completeness, monitor-distribution: monitoring runs (a scheduled
 *   one measuring freshness and completeness; one measuring distribution), then their record;
 *   they replay on the side of `patched('monitor-service-dimensions')` that measures no service.
 * - monitor-skew-service: a monitoring run of the skew dimension (the patched side): the views
 *   listed, the feature services listed, one service's skew measured (a planted mismatch), recorded.
 * - historical-three-partitions: a distributed training set (bench/historical.ts --distributed 3):
 *   plan, three partitions, merge, the scratch dropped.
 */
const HISTORIES = join(import.meta.dirname, 'histories');

test('every recorded history of ingest, materialize, migrate, scheduled-materialize and historical replays on the current workflow code', async () => {
  const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
  const histories = await Promise.all(files.map(async (file) => ({ workflowId: file, history: await readHistoryFile(join(HISTORIES, file)) })));
  assert.ok(histories.length >= 10, `histories in ${HISTORIES}: ${files.join(', ')}`);
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: await workflowBundlePath() } }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId} does not replay: ${result.error?.message}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed, files);
});
