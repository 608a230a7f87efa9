// granary-test: no-stack
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { readHistoryFile } from '../support/workflow-history.ts';
import { workflowBundlePath } from '../../scripts/worker-process.ts';

/**
 * Replay: runs of a previous version of the rebuild workflow (and of its retire workflow, and of
 * the compaction workflow), left
 * in flight or in history, must replay on the current code without a nondeterminism error
 * (workflow changes are guarded by `patched()`). The histories in histories/ were recorded by
 * histories/record-rebuild-histories.ts before each change, from real runs on the local stack,
 * except `rebuild-online-v2-diverged-late-request.json` (a build found diverged after a late
 * request: the `rebuild-after-late-request` patch), recorded on the time-skipping test server with
 * stub activities by test/workflows/rebuild-online-workflow.test.ts (GRANARY_RECORD_HISTORIES=1).
 */
const HISTORIES = join(import.meta.dirname, 'histories');

async function recordedHistories() {
  const files = (await readdir(HISTORIES)).filter((f) => /^((rebuild|retire)-online|compact-view)-.+\.json$/.test(f)).sort();
  return Promise.all(files.map(async (file) => ({ workflowId: file, history: await readHistoryFile(join(HISTORIES, file)) })));
}

test('every recorded history of the rebuild, retire and compaction workflows replays on the current workflow code', async () => {
  const histories = await recordedHistories();
  // v1: before the retire phase had its own workflow (a run that waited out its grace holding the
  // rebuild's id); v2: the retire workflow, and a run that continued as new for a late request;
  // v3: the catch-up applying pending commits in batches (patched('apply-commit-batches'));
  // v4: the read-once build, scatter then build per partition, its worker killed mid-partition (patched('read-once-rebuild'));
  // v5: a rebuild asked without partitions, the plan's taken (patched('partitions-from-plan'));
  // v6: a compaction (compact-view-workflow.ts), and rebuilds that may start from its snapshot (patched('snapshot-rebuild')).
  assert.ok(histories.length >= 18, `histories in ${HISTORIES}: ${histories.map((h) => h.workflowId).join(', ')}`);
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: await workflowBundlePath() } }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId} does not replay: ${result.error?.message}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed, histories.map((h) => h.workflowId));
});
