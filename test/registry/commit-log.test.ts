import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import type { CommitObject, NewCommit } from '../../stores/registry/commit-log.ts';
import { newPool, openRegistry, spendRepo, uniqueProject } from './registry-fixtures.ts';

const pool = newPool();
const opened: PostgresRegistry[] = [];
after(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await pool.end();
});

/** Two registries of one fresh project with user_spend v1 applied. */
async function setup(label: string): Promise<{ project: string; a: PostgresRegistry; b: PostgresRegistry }> {
  const project = uniqueProject(label);
  const [a, b] = await Promise.all([openRegistry(project), openRegistry(project)]);
  opened.push(a, b);
  await a.apply(spendRepo());
  return { project, a, b };
}

function object(key: string, rowCount = 10): CommitObject {
  return {
    key,
    rowCount,
    minEventTime: new Date('2024-01-01T00:00:00.000Z'),
    maxEventTime: new Date('2024-01-01T23:59:59.999Z'),
    checksum: `sha256:${key}`,
    bytes: 5_000_000_000 + rowCount,
  };
}

function batch(batchId: string, objects: CommitObject[] = [object(`${batchId}/part-0`)]): NewCommit {
  return { view: 'user_spend', version: 1, batchId, schemaVersion: 1, objects };
}

test('a commit holds several objects, read back exactly', async () => {
  const { a } = await setup('commit');
  const objects = [object('b1/part-0', 3), object('b1/part-1', 4)];
  const { commit, created } = await a.commit(batch('b1', objects));
  assert.equal(created, true);
  assert.equal(commit.batchId, 'b1');
  assert.equal(commit.schemaVersion, 1);
  assert.ok(commit.seq > 0);
  assert.ok(commit.committedAt instanceof Date);
  assert.deepEqual(commit.objects, objects);
  assert.deepEqual(await a.commitFor('user_spend', 1, 'b1'), commit);
  assert.equal(await a.commitFor('user_spend', 1, 'nope'), undefined);
});

test('a commit is idempotent on (view, version, batch id)', async () => {
  const { project, a, b } = await setup('idem');
  const first = await a.commit(batch('b1'));
  const retry = await b.commit(batch('b1', [object('other-key')]));
  assert.equal(retry.created, false);
  assert.deepEqual(retry.commit, first.commit);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM granary_commits WHERE project = $1', [project]);
  assert.equal(Number(rows[0]!.n), 1);
});

test('concurrent commits of the same batch: exactly one is created, all agree, no duplicate objects', async () => {
  const { project, a, b } = await setup('race');
  const objects = [object('b1/part-0'), object('b1/part-1')];
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).commit(batch('b1', objects))));
  assert.equal(results.filter((r) => r.created).length, 1);
  assert.equal(new Set(results.map((r) => r.commit.seq)).size, 1);
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM granary_commit_objects o JOIN granary_commits c USING (seq) WHERE c.project = $1',
    [project],
  );
  assert.equal(Number(rows[0]!.n), 2);
});

test('seqs increase in commit order; ranges and the latest seq', async () => {
  const { a } = await setup('seq');
  assert.equal(await a.latestCommitSeq('user_spend', 1), 0);
  const seqs: number[] = [];
  for (const id of ['b1', 'b2', 'b3', 'b4']) seqs.push((await a.commit(batch(id))).commit.seq);
  assert.deepEqual([...seqs].sort((x, y) => x - y), seqs);
  assert.equal(await a.latestCommitSeq('user_spend', 1), seqs[3]);
  assert.deepEqual((await a.commits('user_spend', 1)).map((c) => c.batchId), ['b1', 'b2', 'b3', 'b4']);
  assert.deepEqual((await a.commits('user_spend', 1, { after: seqs[0] })).map((c) => c.batchId), ['b2', 'b3', 'b4']);
  assert.deepEqual((await a.commits('user_spend', 1, { after: seqs[0], upTo: seqs[2] })).map((c) => c.batchId), ['b2', 'b3']);
  assert.deepEqual((await a.commits('user_spend', 1, { limit: 2 })).map((c) => c.batchId), ['b1', 'b2']);
  assert.deepEqual(await a.commits('user_spend', 2), []);
});

test('commits of one view become visible in seq order, even when made concurrently', async () => {
  const { a, b } = await setup('order');
  // A reader that has seen seq N must never later find a commit below N it had not seen:
  // materialization would skip it for good.
  const visible = new Set<number>();
  let highest = 0;
  let done = false;
  const violations: number[] = [];
  const reader = (async () => {
    while (!done) {
      for (const c of await a.commits('user_spend', 1)) {
        if (visible.has(c.seq)) continue;
        if (c.seq < highest) violations.push(c.seq);
        visible.add(c.seq);
      }
      highest = Math.max(0, ...visible);
    }
  })();
  const objects = Array.from({ length: 20 }, (_, i) => object(`part-${i}`));
  await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).commit(batch(`b${i}`, objects))));
  done = true;
  await reader;
  assert.deepEqual(violations, []);
  assert.equal((await a.commits('user_spend', 1)).length, 30);
});

test('committing to a view that is not registered fails', async () => {
  const { a } = await setup('unknown');
  await assert.rejects(a.commit({ ...batch('b1'), view: 'nope' }), /feature view 'nope' version 1 .*not registered/);
  await assert.rejects(a.commit({ ...batch('b1'), version: 2 }), /not registered/);
  await assert.rejects(a.commit(batch('')), /batchId is empty/);
});
