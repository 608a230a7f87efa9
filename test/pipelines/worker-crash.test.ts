import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Failpoint } from '../../activities/failpoints.ts';
import { driverRows } from '../support/driver-stats.ts';
import { pipelineFixture } from '../support/pipeline-fixture.ts';

/**
 * The worker process SIGKILLed at each dangerous point of the write path. After a new worker
 * takes over, the ingestion completes, online equals offline (verify), and every committed row
 * is accounted for exactly once.
 */
const ROWS = 12_000; // more than one online write chunk, so 'mid-online-apply' is mid-way
// More entities than one online write chunk (5000 rows) holds: when every row falls on one event
// date (one object), the first chunk must still leave entities offline-only at the kill.
const ENTITIES = 8000;

async function crashAt(failpoint: Failpoint, checkAtCrash: (f: Awaited<ReturnType<typeof pipelineFixture>>) => Promise<void>) {
  const f = await pipelineFixture(`crash_${failpoint}`);
  const doomed = await f.startWorker({ GRANARY_FAILPOINTS: failpoint });
  const pushed = f.store.push('driver_stats', driverRows(ROWS, { entities: ENTITIES }), { batchId: `crash-${failpoint}` });
  pushed.catch(() => undefined);
  const ended = await doomed.exited;
  assert.equal(ended, 'SIGKILL', `the worker died at the failpoint:\n${doomed.output()}`);
  assert.match(doomed.output(), new RegExp(`failpoint '${failpoint}' reached`));

  await checkAtCrash(f);

  await f.startWorker();
  const result = await pushed;
  assert.equal(result.materialized, true);
  const commits = await f.registry.commits(f.ref.view, f.ref.version);
  assert.equal(commits.length, 1, 'one commit, whatever the retries');
  assert.equal(commits[0]!.objects.reduce((n, o) => n + o.rowCount, 0), ROWS, 'every row committed once');
  const [report] = await f.store.verifyInProcess(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, ENTITIES);
  assert.equal(report!.watermark, commits[0]!.seq);
}

test('killed after the offline write, before the commit: the objects stay invisible, then are rewritten and committed once', async () => {
  await crashAt('after-offline-write', async (f) => {
    assert.deepEqual(await f.registry.commits(f.ref.view, f.ref.version), [], 'nothing is committed');
    const written: string[] = [];
    for await (const o of f.store.stores.offline.list(`${f.ref.project}/driver_stats/`)) written.push(o.key);
    assert.ok(written.length > 0, 'the objects were written before the crash');
  });
});

test('killed after the commit, before any online write: materialization still applies it', async () => {
  await crashAt('after-commit', async (f) => {
    const commits = await f.registry.commits(f.ref.view, f.ref.version);
    assert.equal(commits.length, 1);
    const { generation } = await f.registry.activeGeneration(f.ref.view, f.ref.version);
    assert.equal(await f.registry.watermark(f.ref.view, f.ref.version, generation), 0);
  });
});

test('killed in the middle of a Redis apply: the retry resumes and the result is exact', async () => {
  await crashAt('mid-online-apply', async (f) => {
    const { generation } = await f.registry.activeGeneration(f.ref.view, f.ref.version);
    assert.equal(await f.registry.watermark(f.ref.view, f.ref.version, generation), 0, 'the watermark did not move');
    const [report] = await f.store.verifyInProcess(['driver_stats']);
    assert.ok(report!.onlineEntities > 0 && report!.onlineEntities < ENTITIES, `part of the rows are online (${report!.onlineEntities})`);
  });
});

test('killed after the online write, before the watermark moved: replay is a no-op', async () => {
  await crashAt('before-watermark', async (f) => {
    const { generation } = await f.registry.activeGeneration(f.ref.view, f.ref.version);
    assert.equal(await f.registry.watermark(f.ref.view, f.ref.version, generation), 0);
  });
});
