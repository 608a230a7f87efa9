import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeOfflineHome } from '../../stores/offline-home.ts';
import { workflowIds } from '../../workflows/contracts.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Issue 12, item 8, on a real worker: a worker configured with another offline store (a pod's
 * local disk) that serves a project it was not started for finds the mismatch when it first
 * touches the project's data, fails that activity naming both locations, retryably, and writes
 * nothing; a worker configured for the project's home then finishes the same ingestion.
 */
test("a worker with another offline store never touches a project's data; one configured for its home finishes the ingest", { timeout: 180_000 }, async () => {
  const f = await pipelineFixture('home_worker');
  const home = await f.store.stores.checkOfflineHome({ record: true });
  assert.ok(home, 'the project has its home recorded');
  const localDisk = await tempDir('pod-disk');
  // Started for another project, so its start-up check passes: it meets this one through the task queue.
  const wrong = await f.startWorker({ GRANARY_PROJECT: 'default', GRANARY_OFFLINE_URL: localDisk });

  const batchId = 'b-home';
  const pushed = f.store.push('driver_stats', driverRows(50), { batchId });
  pushed.catch(() => undefined); // awaited below; a failed assertion before then must not leave it unhandled
  const handle = (await f.store.temporal()).workflow.getHandle(workflowIds.ingest(f.ref, batchId));
  let failure = '';
  for (const deadline = Date.now() + 60_000; !failure.includes('keeps its offline data in') && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const described = await handle.describe().catch(() => undefined);
    failure = described?.raw.pendingActivities?.[0]?.lastFailure?.message ?? '';
  }
  assert.match(failure, new RegExp(`project '${f.config.project}' keeps its offline data in .*but this process is configured with ${localDisk}`));
  assert.ok(failure.includes(describeOfflineHome(home)), failure);
  // The worker logs the activity's failure a moment after Temporal records it.
  for (const deadline = Date.now() + 15_000; !/keeps its offline data in/.test(wrong.output()) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.match(wrong.output(), /keeps its offline data in/, 'the worker logs the mismatch');
  assert.equal(existsSync(join(localDisk, f.config.project)), false, "nothing was written to the worker's disk");
  await wrong.kill('SIGTERM');

  await f.startWorker();
  const result = await pushed;
  assert.equal(result.created, true);
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report?.ok, true, JSON.stringify(report));
});
