import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { ActivityDeps } from '../../activities/activity-deps.ts';
import { planCompaction } from '../../activities/compact-view.ts';
import { planRebuild } from '../../activities/plan-rebuild.ts';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '../../pipelines/future-event-time.ts';
import { snapshotPrefix, snapshotRunKey } from '../../stores/offline/object-key.ts';
import { LocalOfflineStore } from '../../stores/offline/local-offline-store.ts';
import type { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import type { Registry } from '../../stores/registry/registry.ts';
import { openRegistry, spendRepo, uniqueProject } from '../registry/registry-fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * The plans of a rebuild and of a compaction that start from a snapshot, from the registry's row
 * counts (nothing else is read, so the counts can be production-sized): five commits of 800k rows
 * after a snapshot at the first. With 4 partitions the snapshot holds (its 800k entities and the
 * 3.2M rows since fit in 4 x 1.25M): only the commits after it are sliced. With 2 it is outgrown:
 * every commit is sliced from 0, at the count partitionsFor gives, slices cut as if there were no
 * snapshot (not the since-snapshot slices with the first commit's added), the plan of a rebuild
 * that reads no snapshot. Either way each commit row is read from the registry once.
 */
const ROWS = 800_000;
const opened: PostgresRegistry[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function seeded(label: string, snapshotPartitions: number) {
  const project = uniqueProject(label);
  const registry = await openRegistry(project);
  opened.push(registry);
  await registry.apply(spendRepo());
  const seqs: number[] = [];
  for (let b = 1; b <= 5; b++) {
    const object = { key: `${project}/user_spend/v1/b${b}.parquet`, rowCount: ROWS, minEventTime: new Date(0), maxEventTime: new Date(0), checksum: 'x', bytes: 1 };
    seqs.push((await registry.commit({ view: 'user_spend', version: 1, batchId: `b${b}`, schemaVersion: 1, objects: [object] })).commit.seq);
  }
  const prefix = snapshotPrefix(project, 'user_spend', 1, seqs[0]!, snapshotPartitions);
  const runs = Array.from({ length: snapshotPartitions }, () => 1);
  await registry.recordSnapshot({ view: 'user_spend', version: 1, seq: seqs[0]!, partitions: snapshotPartitions, runs, maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS, rowsCommitted: ROWS, entities: ROWS, prefix });
  const dir = await tempDir('outgrown-plan');
  dirs.push(dir);
  const offline = new LocalOfflineStore({ path: dir });
  await offline.ensureReady();
  // The planned rebuild checks that the snapshot's runs exist (their content is not read).
  for (let p = 0; p < snapshotPartitions; p++) await offline.putBytes(snapshotRunKey(prefix, p, 0), new Uint8Array([1]));
  /** Commit rows the plans read from the registry. */
  const read = { commits: 0 };
  const counting = new Proxy(registry as Registry, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === 'commits') {
        return async (...args: Parameters<Registry['commits']>) => {
          const commits = await target.commits(...args);
          read.commits += commits.length;
          return commits;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const deps = { registry: () => counting, offline } as unknown as ActivityDeps;
  const ref = { project, view: 'user_spend', version: 1 };
  return { ref, seqs, prefix, runs, deps, read };
}

test('a snapshot that still holds: the plans slice only the commits after it, each read once', async () => {
  const { ref, seqs, prefix, runs, deps, read } = await seeded('plan_holds', 4);
  const [s1, , s3, , s5] = seqs as [number, number, number, number, number];
  const slices = [
    { after: s1, upTo: s3, rows: 2 * ROWS },
    { after: s3, upTo: s5, rows: 2 * ROWS },
  ];
  const rebuild = await planRebuild(deps)({ ...ref, generation: 1, upTo: s5, snapshots: true });
  assert.deepEqual(rebuild, { slices, rowsCommitted: 5 * ROWS, partitions: 4, snapshot: { seq: s1, prefix, runs } });
  assert.equal(read.commits, 4);
  read.commits = 0;
  const compaction = await planCompaction(deps)(ref);
  assert.deepEqual(compaction, {
    seq: s5,
    partitions: 4,
    prefix: snapshotPrefix(ref.project, 'user_spend', 1, s5, 4),
    base: { seq: s1, prefix, runs },
    slices,
    rowsCommitted: 5 * ROWS,
    upToDate: false,
  });
  assert.equal(read.commits, 4);
});

test('an outgrown snapshot: the plans slice every commit from 0 at the count the view needs, each commit read once', async () => {
  const { ref, seqs, deps, read } = await seeded('plan_outgrown', 2);
  const [, s2, , s4, s5] = seqs as [number, number, number, number, number];
  // From 0 the slices pair commits 1+2 and 3+4; from the snapshot they would pair 2+3 and 4+5.
  const slices = [
    { after: 0, upTo: s2, rows: 2 * ROWS },
    { after: s2, upTo: s4, rows: 2 * ROWS },
    { after: s4, upTo: s5, rows: ROWS },
  ];
  const rebuild = await planRebuild(deps)({ ...ref, generation: 1, upTo: s5, snapshots: true });
  assert.deepEqual(rebuild, { slices, rowsCommitted: 5 * ROWS, partitions: 8 });
  assert.equal(read.commits, 5, 'the commits after the snapshot are not read again');
  read.commits = 0;
  assert.deepEqual(await planRebuild(deps)({ ...ref, generation: 1, upTo: s5 }), rebuild, 'the plan of a rebuild that reads no snapshot');
  assert.equal(read.commits, 5);
  read.commits = 0;
  const compaction = await planCompaction(deps)(ref);
  assert.deepEqual(compaction, {
    seq: s5,
    partitions: 8,
    prefix: snapshotPrefix(ref.project, 'user_spend', 1, s5, 8),
    slices,
    rowsCommitted: 5 * ROWS,
    upToDate: false,
  });
  assert.equal(read.commits, 5, 'the commits after the snapshot are not read again');
});
