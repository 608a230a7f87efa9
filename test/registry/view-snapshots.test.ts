import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import type { NewViewSnapshot } from '../../stores/registry/view-snapshots.ts';
import { openRegistry, spendRepo, uniqueProject } from './registry-fixtures.ts';

const opened: PostgresRegistry[] = [];
after(() => Promise.all(opened.map((r) => r.close())));

const SKEW = 3_600_000;

function snapshot(seq: number, partitions: number, overrides: Partial<NewViewSnapshot> = {}): NewViewSnapshot {
  return {
    view: 'user_spend',
    version: 1,
    seq,
    partitions,
    runs: Array.from({ length: partitions }, () => 1),
    maxFutureSkewMs: SKEW,
    rowsCommitted: 100 * seq,
    entities: 10 * seq,
    prefix: `p/_snapshots/user_spend/v1/seq${seq}-of${partitions}/`,
    ...overrides,
  };
}

test('snapshots: recorded once; the newest usable one up to a seq, of a partition count and skew; invalidated ones never again', async () => {
  const registry = await openRegistry(uniqueProject('snapshots'));
  opened.push(registry);
  await registry.apply(spendRepo());
  const first = await registry.recordSnapshot(snapshot(5, 4));
  const again = await registry.recordSnapshot(snapshot(5, 4, { entities: 999 }));
  assert.equal(again.entities, first.entities, 'recording the same snapshot again keeps the first');
  await registry.recordSnapshot(snapshot(9, 4));
  await registry.recordSnapshot(snapshot(9, 8));
  await registry.recordSnapshot(snapshot(12, 4, { maxFutureSkewMs: 60_000 }));
  await assert.rejects(registry.recordSnapshot(snapshot(13, 4, { runs: [1] })), /1 run counts for 4 partitions/);

  const latest = (o: { upTo?: number; partitions?: number; maxFutureSkewMs?: number }) =>
    registry.latestSnapshot('user_spend', 1, { maxFutureSkewMs: SKEW, ...o }).then((s) => s && [s.seq, s.partitions]);
  assert.deepEqual(await latest({ partitions: 4 }), [9, 4], 'another skew (seq 12) is not used');
  assert.deepEqual(await latest({ partitions: 4, upTo: 8 }), [5, 4], 'none after the rebuild\'s upTo');
  assert.deepEqual(await latest({ partitions: 8 }), [9, 8]);
  assert.equal(await latest({ partitions: 2 }), undefined);
  assert.deepEqual(await latest({ partitions: 4, maxFutureSkewMs: 60_000 }), [12, 4]);

  assert.equal(await registry.invalidateSnapshots('user_spend', 1, 'a run is missing', { fromSeq: 9, beforeSeq: 10, partitions: 4 }), 1);
  assert.deepEqual(await latest({ partitions: 4 }), [5, 4], 'the older one is used again');
  assert.deepEqual(await latest({ partitions: 8 }), [9, 8], 'only the snapshot of that partition count is marked');
  const kept = (await registry.snapshots()).map((s) => `${s.seq}/${s.partitions}`);
  assert.deepEqual(kept, ['5/4', '9/8', '12/4']);
  const recent = (await registry.snapshots({ invalidatedSince: new Date(Date.now() - 60_000) })).map((s) => `${s.seq}/${s.partitions}`);
  assert.deepEqual(recent, ['5/4', '9/4', '9/8', '12/4'], 'GC keeps one made unusable within its grace');
  assert.equal(await registry.invalidateSnapshots('user_spend', 1, 'superseded', { beforeSeq: 12 }), 2);
  assert.equal(await latest({}), undefined);
});
