/**
 * Records histories of the rebuild workflow (workflows/rebuild-online-workflow.ts) as the code
 * stands, for the replay test (test/pipelines/rebuild-replay.test.ts), which proves that a new
 * version of the workflow still replays runs an older version left in flight. Run it against the
 * local stack before changing the workflow, and commit the files it writes:
 *
 *   eval "$(npm run -s stack -- env)"
 *   node --import tsx test/pipelines/histories/record-rebuild-histories.ts <label>
 *
 * It writes `rebuild-online-<label>-completed.json` (a whole rebuild: build, catch-up, verify,
 * cut-over, retire) and `rebuild-online-<label>-retiring.json` (a rebuild caught while it waits
 * out its retire grace, the point where a worker would be replaced in production; since v2 the
 * grace is the retire workflow's, recorded as `retire-online-<label>-waiting.json`). From v2 on,
 * also `rebuild-online-<label>-late-request.json`: a run that received a request while verifying
 * and continued as a new build. From v5 on, also `rebuild-online-<label>-default-partitions.json`:
 * a rebuild asked without partitions (the plan picks them). From v6 on, also
 * `compact-view-<label>-completed.json` (a compaction) and `rebuild-online-<label>-from-snapshot.json`
 * (a rebuild that starts from that snapshot and reads only the commit after it).
 */
import { join } from 'node:path';
import { PostgresRegistry } from '../../../stores/registry/postgres-registry.ts';
import { FeatureStore } from '../../../sdk/feature-store.ts';
import { rebuildProgressQuery, workflowIds, type RebuildProgress } from '../../../workflows/contracts.ts';
import { driverRepo, driverRows } from '../../support/driver-stats.ts';
import { writeHistoryFile, type WorkflowHistory } from '../../support/workflow-history.ts';
import { testConfig } from '../../support/test-config.ts';
import { sleep, startWorkerProcess } from '../../../scripts/worker-process.ts';

const HERE = import.meta.dirname;

async function main(label: string): Promise<void> {
  const { config, env } = testConfig('history_rebuild');
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  await registry.apply(driverRepo);
  const store = await FeatureStore.open({ config });
  const worker = await startWorkerProcess(env);
  try {
    await store.push('driver_stats', driverRows(20_000, { entities: 10_000 }), { batchId: 'b1' });
    const client = await store.temporal();
    const id = workflowIds.rebuild({ project: config.project, view: 'driver_stats', version: 1 });

    await store.rebuildOnline(['driver_stats'], { wait: true, partitions: 2, retireAfterSeconds: 1 });
    await save(`rebuild-online-${label}-completed.json`, await client.workflow.getHandle(id).fetchHistory());
    // From v5 on: no partitions asked, the plan picks them (partitions-from-plan).
    await store.rebuildOnline(['driver_stats'], { wait: true, retireAfterSeconds: 1 });
    await save(`rebuild-online-${label}-default-partitions.json`, await client.workflow.getHandle(id).fetchHistory());
    // From v6 on: a compaction, then a rebuild from its snapshot plus a later commit (snapshot-rebuild).
    const ref = { project: config.project, view: 'driver_stats', version: 1 };
    await store.compact(['driver_stats'], { partitions: 2 });
    await save(`compact-view-${label}-completed.json`, await client.workflow.getHandle(workflowIds.compact(ref)).fetchHistory());
    await store.push('driver_stats', driverRows(2000, { entities: 10_000, salt: 3 }), { batchId: 'b2' });
    await store.rebuildOnline(['driver_stats'], { wait: true, partitions: 2, retireAfterSeconds: 1 });
    await save(`rebuild-online-${label}-from-snapshot.json`, await client.workflow.getHandle(id).fetchHistory());

    await store.rebuildOnline(['driver_stats'], { partitions: 2, retireAfterSeconds: 3600 });
    const handle = client.workflow.getHandle(id);
    const waiting = await until(handle, (p) => p.state === 'retiring' || (p.state === 'done' && p.retire !== undefined));
    if (waiting.retire) {
      // v2 on: the rebuild ended at its cut-over; its retire workflow waits out the grace.
      await save(`rebuild-online-${label}-retiring.json`, await handle.fetchHistory());
      const retire = client.workflow.getHandle(waiting.retire.workflowId);
      await save(`retire-online-${label}-waiting.json`, await retire.fetchHistory());
      await retire.terminate('history recorded');

      // A request while the rebuild verifies: the run continues as a new build after its cut-over.
      await store.rebuildOnline(['driver_stats'], { partitions: 2, retireAfterSeconds: 0 });
      const first = await client.workflow.getHandle(id).describe();
      await until(handle, (p) => p.state === 'verifying' || p.state === 'cutting-over');
      await store.rebuildOnline(['driver_stats'], { wait: true, partitions: 2, retireAfterSeconds: 0 });
      await save(`rebuild-online-${label}-late-request.json`, await client.workflow.getHandle(id, first.runId).fetchHistory());
    } else {
      await save(`rebuild-online-${label}-retiring.json`, await handle.fetchHistory());
      await handle.terminate('history recorded');
    }
  } finally {
    await worker.kill('SIGTERM');
    await Promise.allSettled([store.close(), registry.close()]);
  }
}

/** Queries the rebuild's progress every 20 ms until `done` holds (a minute at most). */
async function until(handle: { query: (q: typeof rebuildProgressQuery) => Promise<RebuildProgress> }, done: (p: RebuildProgress) => boolean): Promise<RebuildProgress> {
  for (let i = 0; i < 3000; i++) {
    const progress = await handle.query(rebuildProgressQuery).catch(() => undefined);
    if (progress && done(progress)) return progress;
    await sleep(20);
  }
  throw new Error('the rebuild did not reach the state wanted within a minute');
}

async function save(name: string, history: WorkflowHistory): Promise<void> {
  await writeHistoryFile(join(HERE, name), history);
  console.log(`wrote ${join(HERE, name)} (${history.events?.length ?? 0} events)`);
}

const label = process.argv[2];
if (!label || !/^[\w-]+$/.test(label)) {
  console.error('usage: record-rebuild-histories.ts <label> (e.g. v1: the files are rebuild-online-<label>-*.json)');
  process.exit(2);
}
main(label).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
