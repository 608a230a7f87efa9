// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepsPartitionSize, PARTITION_ROWS, partitionsFor } from '../../activities/plan-rebuild.ts';

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
