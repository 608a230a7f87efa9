// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepsPartitionSize, PARTITION_ROWS, partitionsFor, sliceCommitRows } from '../../activities/plan-rebuild.ts';

/**
 * A snapshot's partition count is kept (by the next compaction, and by a rebuild that starts from
 * it) only while its entities plus the rows committed since fit in partitions of PARTITION_ROWS:
 * a snapshot made when the view was small would otherwise make partitions, and a worker's memory,
 * grow with the view.
 */
test("a snapshot's partition count is kept while its entities and the rows since fit, given up once the view outgrew it", () => {
  const snapshot = { partitions: 8, entities: 2_000_000 };
  assert.equal(keepsPartitionSize(snapshot, 0), true);
  assert.equal(keepsPartitionSize(snapshot, 8 * PARTITION_ROWS - 2_000_000), true, 'exactly 8 partitions of rows');
  assert.equal(keepsPartitionSize(snapshot, 8 * PARTITION_ROWS - 2_000_000 + 1), false, 'one row more needs a 9th partition');
  assert.equal(keepsPartitionSize({ partitions: 8, entities: 20_000_000 }, 0), false, 'the view grew past the count');
  const grown = { partitions: partitionsFor(20_000_000), entities: 20_000_000 };
  assert.equal(grown.partitions, 16);
  assert.equal(keepsPartitionSize(grown, 0), true, 'a new snapshot at the count partitionsFor gives keeps it');
  assert.equal(keepsPartitionSize({ partitions: 2, entities: 1_000 }, 10), true, 'a small count asked for a small view is kept');
});

test('commits are sliced from where the plan starts: about SLICE_ROWS rows each, a larger commit alone', () => {
  const commits = [
    { seq: 3, rows: 1_500_000 },
    { seq: 5, rows: 400_000 },
    { seq: 9, rows: 700_000 },
    { seq: 12, rows: 2_500_000 },
    { seq: 13, rows: 1 },
  ];
  assert.deepEqual(sliceCommitRows(0, commits), {
    slices: [
      { after: 0, upTo: 5, rows: 1_900_000 },
      { after: 5, upTo: 9, rows: 700_000 },
      { after: 9, upTo: 12, rows: 2_500_000 },
      { after: 12, upTo: 13, rows: 1 },
    ],
    rows: 5_100_001,
  });
  // From a snapshot at seq 3: the same commits after it pair differently.
  assert.deepEqual(sliceCommitRows(3, commits.slice(1)).slices, [
    { after: 3, upTo: 9, rows: 1_100_000 },
    { after: 9, upTo: 12, rows: 2_500_000 },
    { after: 12, upTo: 13, rows: 1 },
  ]);
  assert.deepEqual(sliceCommitRows(7, []), { slices: [], rows: 0 });
});
