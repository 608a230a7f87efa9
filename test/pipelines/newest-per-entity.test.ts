// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toViewTable } from '../../ingest/batch-validation.ts';
import { entityPartition } from '../../pipelines/entity-partition.ts';
import { NewestPerEntity } from '../../pipelines/newest-per-entity.ts';
import { replaces, rowKeysAndTimes } from '../../pipelines/row-conversion.ts';
import { everyType, T0 } from '../offline/offline-fixtures.ts';

/** A small deterministic generator, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Rows with few distinct keys and times, so repeats and exact ties are common; multi-key entities. */
function tableOf(next: () => number, n: number) {
  const rows = Array.from({ length: n }, () => ({
    user_id: `u${Math.floor(next() * 20)}`,
    merchant_id: BigInt(Math.floor(next() * 3)),
    event_timestamp: T0 + Math.floor(next() * 4) * 1000,
    created_timestamp: next() < 0.2 ? null : T0 + Math.floor(next() * 3),
    f_float64: next(),
  }));
  return toViewTable(everyType, rows, { allowMissingFeatures: true });
}

test('the winners are exactly the rows a one-by-one monotonic write would keep, in table order then row order', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const next = random(seed);
    const tables = [tableOf(next, 50), tableOf(next, 1), tableOf(next, 120)];
    // Rows with an event time at the latest second are refused (a stand-in for the future rule).
    const valid = (eventTime: number): boolean => eventTime < T0 + 3000;

    const newest = new NewestPerEntity(everyType);
    let refused = 0;
    for (const table of tables) refused += newest.add(table, valid);

    // The reference: every row, one by one, kept when strictly newer than what is held.
    const held = new Map<string, { eventTime: number; createdTime: number; table: number; row: number }>();
    let expectedRefused = 0;
    tables.forEach((table, t) => {
      const { keys, eventTimes, createdTimes } = rowKeysAndTimes(everyType, table);
      keys.forEach((key, row) => {
        const eventTime = eventTimes[row]!;
        const createdTime = createdTimes[row]!;
        if (!valid(eventTime)) return void expectedRefused++;
        if (replaces(eventTime, createdTime, held.get(key))) held.set(key, { eventTime, createdTime, table: t, row });
      });
    });

    const winners = [...newest.winners()].flatMap(({ table, rows }) => [...rows].map((row) => `${tables.indexOf(table)}:${row}`));
    const expected = [...held.values()].sort((a, b) => a.table - b.table || a.row - b.row).map((w) => `${w.table}:${w.row}`);
    assert.deepEqual(winners, expected, `seed ${seed}`);
    assert.equal(refused, expectedRefused, `seed ${seed}`);
    assert.equal(newest.entities, held.size, `seed ${seed}`);
    assert.equal(newest.rowsRead, 171, `seed ${seed}`);

    // Split by entity-hash partition: partitions ascending, then table then row; keys aligned.
    const keyAt = tables.map((table) => rowKeysAndTimes(everyType, table).keys);
    const split = [...newest.winners((key) => entityPartition(key, 3))];
    assert.deepEqual(
      split.flatMap(({ group, table, rows, keys }) => [...rows].map((row, i) => {
        const t = tables.indexOf(table);
        assert.equal(keys[i], keyAt[t]![row], `seed ${seed}: the key of ${t}:${row}`);
        return `${group}/${t}:${row}`;
      })),
      [...held.entries()]
        .map(([key, w]) => ({ ...w, group: entityPartition(key, 3) }))
        .sort((a, b) => a.group - b.group || a.table - b.table || a.row - b.row)
        .map((w) => `${w.group}/${w.table}:${w.row}`),
      `seed ${seed}`,
    );
  }
});

test('more entities than the initial slots: every one is kept once, with its newest row', () => {
  const n = 5000;
  const older = toViewTable(everyType, Array.from({ length: n }, (_, i) => ({ user_id: `u${i}`, merchant_id: 1n, event_timestamp: T0 + 2000, created_timestamp: null, f_float64: 1 })), { allowMissingFeatures: true });
  const newer = toViewTable(everyType, Array.from({ length: n }, (_, i) => ({ user_id: `u${i}`, merchant_id: 1n, event_timestamp: T0 + (i % 2 === 0 ? 3000 : 1000), created_timestamp: null, f_float64: 2 })), { allowMissingFeatures: true });
  const newest = new NewestPerEntity(everyType);
  newest.add(older);
  newest.add(newer);
  assert.equal(newest.entities, n);
  const winners = [...newest.winners()];
  assert.deepEqual(winners.map(({ table, rows }) => [table === older ? 'older' : 'newer', rows.length]), [['older', n / 2], ['newer', n / 2]]);
  assert.ok(winners[1]!.rows.every((row) => row % 2 === 0), 'the even entities took their newer row');
});

test('addDistinct (a snapshot run: one row per entity): winners as they are without an index, and indexed as add() would the moment add() or has() needs it', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const next = random(seed);
    // Two "snapshot runs" of distinct entities (the winners of earlier tables), then a later table.
    const reduce = (tables: ReturnType<typeof tableOf>[]) => {
      const newest = new NewestPerEntity(everyType);
      for (const table of tables) newest.add(table);
      return newest;
    };
    const base = reduce([tableOf(next, 80)]);
    const runs = [...base.tableChunks(7)].map((chunk) => chunk.table);
    const later = tableOf(next, 40);
    const order = (n: NewestPerEntity, tables: unknown[]) => [...n.winners()].flatMap(({ table, rows, keys }) => [...rows].map((row, i) => `${tables.indexOf(table)}:${row}:${keys[i]}`));

    const distinct = new NewestPerEntity(everyType);
    for (const run of runs) distinct.addDistinct(run);
    const added = reduce(runs);
    assert.equal(distinct.entities, added.entities, `seed ${seed}`);
    assert.deepEqual(order(distinct, runs), order(added, runs), `seed ${seed}: the same winners in the same order, no index`);
    const key = [...added.winners()][0]!.keys[0]!;
    assert.equal(distinct.has(key), true, `seed ${seed}`);

    const both = new NewestPerEntity(everyType);
    for (const run of runs) both.addDistinct(run);
    both.add(later);
    const all = [...runs, later];
    assert.deepEqual(order(both, all), order(reduce(all), all), `seed ${seed}: a later table after the runs wins by the newest rule`);
    assert.equal(both.rowsRead, reduce(all).rowsRead, `seed ${seed}`);
  }
  const used = new NewestPerEntity(everyType);
  used.add(tableOf(random(1), 5));
  assert.throws(() => used.addDistinct(tableOf(random(2), 5)), /already added/);
});
