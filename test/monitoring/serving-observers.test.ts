// granary-test: no-stack
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { quantileMs } from '../../monitoring/measure-serving.ts';
import type { OnlineFeatureColumns } from '../../serving/online-features.ts';
import { notifyServed } from '../../serving/serving-observer.ts';
import { ServingSampleLog, servingLogPrefix } from '../../serving/serving-sample-log.ts';
import { ThreadedSampleLog } from '../../serving/threaded-sample-log.ts';
import { LocalOfflineStore } from '../../stores/offline/local-offline-store.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * The serving observers' own rules, on a local offline store: the sample log takes the share of
 * feature-service reads its rate says (none by feature list), drops past its buffer (counted),
 * and writes one long Parquet object per service whose rows read back as served (values as the
 * HTTP answer's JSON); in its thread, a read holding a value structured clone cannot copy is
 * dropped and the others kept; an observer that throws never fails the read; the p99 of latency buckets
 * is interpolated as Prometheus' histogram_quantile does.
 */
const table = (ids: string[]): OnlineFeatureColumns => ({
  joinKeys: ['user_id'],
  entityColumns: [ids],
  featureNames: ['spend', 'count'],
  featureRefs: ['user_spend:spend', 'user_spend@2:count'],
  featureTypes: ['float32', 'int64'],
  columns: [
    { values: ids.map((_, i) => (i === 0 ? Math.fround(71.52) : null)), statuses: ids.map((_, i) => (i === 0 ? 'PRESENT' : 'NOT_FOUND')), eventTimestamps: ids.map((_, i) => (i === 0 ? 1000 : null)) },
    { values: ids.map(() => 2n ** 60n), statuses: ids.map(() => 'PRESENT'), eventTimestamps: ids.map(() => 2000) },
  ],
  rowCount: ids.length,
});

test('the sample log: its rate of service reads, none by feature list, drops past its buffer, one object per service that reads back as served', async () => {
  const dir = await tempDir('sample-log');
  const offline = new LocalOfflineStore({ path: dir });
  await offline.ensureReady();
  let draw = 0;
  // Draws 0.0, 0.25, 0.5, 0.75, ...: a rate of 0.5 takes every other read.
  const log = new ServingSampleLog({ offline, project: 'p', rate: 0.5, flushMs: 3_600_000, maxReads: 3, random: () => (draw++ % 4) / 4 });
  try {
    for (let i = 0; i < 4; i++) log.served({ featureService: 'model_a', requestTime: 5000 + i, table: table([`u${i}`, 'nobody']) });
    log.served({ featureService: '', requestTime: 6000, table: table(['x']) });
    log.served({ featureService: 'model_b', requestTime: 7000, table: table(['b1']) });
    log.served({ featureService: 'model_b', requestTime: 7001, table: table(['b2']) });
    log.served({ featureService: 'model_b', requestTime: 7002, table: table(['b3']) });
    assert.deepEqual(log.stats(), { sampled: 3, written: 0, dropped: 1, failed: 0, objects: 0 });
    await log.flush();
    assert.deepEqual(log.stats(), { sampled: 3, written: 3, dropped: 1, failed: 0, objects: 2 });

    const keys: string[] = [];
    for await (const o of offline.list(servingLogPrefix('p', 'model_a'))) keys.push(o.key);
    assert.equal(keys.length, 1);
    assert.match(keys[0]!, /^p\/_serving_log\/model_a\/\d{13}-[0-9a-f]{8}-\d{6}\.parquet$/);
    const rows: Record<string, unknown>[] = [];
    for await (const { table: t } of offline.readTable(keys[0]!)) rows.push(...t.toArray().map((r) => ({ ...r.toJSON() })));
    // Reads 0 and 1 of model_a (draws 0 and 0.25; 0.5 and 0.75 are not under the rate), two entity rows x two features each.
    assert.deepEqual(
      rows.map((r) => [r.request_time_ms, r.key_user_id, r.view, r.feature, r.value, r.status, r.event_time_ms]),
      [
        [5000, 'u0', 'user_spend', 'spend', '71.52', 'PRESENT', 1000],
        [5000, 'u0', 'user_spend@2', 'count', '"1152921504606846976"', 'PRESENT', 2000],
        [5000, 'nobody', 'user_spend', 'spend', null, 'NOT_FOUND', null],
        [5000, 'nobody', 'user_spend@2', 'count', '"1152921504606846976"', 'PRESENT', 2000],
        [5001, 'u1', 'user_spend', 'spend', '71.52', 'PRESENT', 1000],
        [5001, 'u1', 'user_spend@2', 'count', '"1152921504606846976"', 'PRESENT', 2000],
        [5001, 'nobody', 'user_spend', 'spend', null, 'NOT_FOUND', null],
        [5001, 'nobody', 'user_spend@2', 'count', '"1152921504606846976"', 'PRESENT', 2000],
      ],
    );
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("the threaded sample log writes in its thread the rows the in-process log writes, and stops at close", async () => {
  const dir = await tempDir('threaded-sample-log');
  const offline = new LocalOfflineStore({ path: dir });
  await offline.ensureReady();
  const rowsUnder = async (prefix: string): Promise<unknown[][]> => {
    const rows: unknown[][] = [];
    const keys: string[] = [];
    for await (const o of offline.list(prefix)) keys.push(o.key);
    for (const key of keys.sort()) {
      for await (const { table: t } of offline.readTable(key)) {
        rows.push(...t.toArray().map((r) => [r.request_time_ms, r.key_user_id, r.view, r.feature, r.value, r.status, r.event_time_ms]));
      }
    }
    return rows;
  };
  const reads = [
    { featureService: 'model_a', requestTime: 5000, table: table(['u0', 'nobody']) },
    { featureService: '', requestTime: 6000, table: table(['by-list']) },
    { featureService: 'model_a', requestTime: 5001, table: table(['u1']) },
  ];
  try {
    const inProcess = new ServingSampleLog({ offline, project: 'in', rate: 1, flushMs: 3_600_000 });
    for (const read of reads) inProcess.served(read);
    await inProcess.close();
    const threaded = new ThreadedSampleLog({ offline: { kind: 'local', path: dir }, project: 'thread', rate: 1, flushMs: 3_600_000 });
    for (const read of reads) threaded.served(read);
    await threaded.close();
    assert.deepEqual(threaded.stats(), { sampled: 2, written: 2, dropped: 0, failed: 0, objects: 1 });
    const written = await rowsUnder(servingLogPrefix('thread', 'model_a'));
    assert.equal(written.length, 6, 'two reads: 3 entity rows x 2 features');
    assert.deepEqual(written, await rowsUnder(servingLogPrefix('in', 'model_a')));
    // Closed: a read served afterwards is not taken, and close() again is quiet.
    threaded.served(reads[0]!);
    await threaded.close();
    assert.equal((await rowsUnder(servingLogPrefix('thread', 'model_a'))).length, 6);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the threaded sample log: a read holding a value structured clone cannot copy is dropped (failed, reported once), the reads posted with it are logged', async () => {
  const dir = await tempDir('sample-log-unclonable');
  try {
    const errors: string[] = [];
    const threaded = new ThreadedSampleLog({ offline: { kind: 'local', path: dir }, project: 'p', rate: 1, flushMs: 3_600_000, onError: (e) => void errors.push(e.message) });
    /** A read whose first feature holds `value` in its first row (the values of served reads are never functions or symbols, but an observer must not stop the server if one is). */
    const poisoned = (value: unknown, requestTime: number) => {
      const t = table(['bad']);
      return { featureService: 'model_a', requestTime, table: { ...t, columns: [{ ...t.columns[0]!, values: [value] as unknown as (number | null)[] }, t.columns[1]!] } };
    };
    // Served in one tick: posted as one message, which the function's DataCloneError fails whole.
    threaded.served({ featureService: 'model_a', requestTime: 1, table: table(['u1', 'u2']) });
    threaded.served(poisoned(() => 1, 2));
    threaded.served(poisoned(Symbol('s'), 3));
    threaded.served({ featureService: 'model_a', requestTime: 4, table: table(['u3']) });
    await new Promise((resolve) => setImmediate(resolve));
    // A later tick: a batch of only a bad read.
    threaded.served(poisoned(() => 2, 5));
    await threaded.close();
    assert.deepEqual(threaded.stats(), { sampled: 5, written: 2, dropped: 0, failed: 3, objects: 1 });
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /^a read of feature service 'model_a' holds a value that cannot be sent to the sample log's thread, in feature 'user_spend:spend' \(DataCloneError: /);
    const rows: Record<string, unknown>[] = [];
    for await (const o of new LocalOfflineStore({ path: dir }).list(servingLogPrefix('p', 'model_a'))) {
      for await (const { table: t } of new LocalOfflineStore({ path: dir }).readTable(o.key)) rows.push(...t.toArray().map((r) => ({ ...r.toJSON() })));
    }
    assert.deepEqual([...new Set(rows.map((r) => r.key_user_id))].sort(), ['u1', 'u2', 'u3'], 'the good reads of the failed batch are logged');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an observer that throws never fails the read; the others are still told', () => {
  const told: string[] = [];
  notifyServed(
    [
      {
        served: () => {
          throw new Error('broken observer');
        },
      },
      { served: (read) => void told.push(read.featureService) },
    ],
    { featureService: 'model_a', requestTime: 1, table: table(['u1']) },
  );
  assert.deepEqual(told, ['model_a']);
});

test('p99 of latency buckets: interpolated inside its bucket; past the last finite bound, that bound', () => {
  const buckets = (counts: [number, number][]) => counts.map(([le, count]) => ({ featureService: 's', le, count }));
  // 100 responses: 90 under 1 ms, 10 in (1 ms, 2 ms]: rank 99 is 9/10 into the second bucket.
  assert.ok(Math.abs(quantileMs(buckets([[0.001, 90], [0.002, 10], [Number.POSITIVE_INFINITY, 0]]), 0.99) - 1.9) < 1e-12);
  assert.equal(quantileMs(buckets([[0.001, 1], [2.5, 0], [Number.POSITIVE_INFINITY, 99]]), 0.99), 2500);
  assert.ok(Math.abs(quantileMs(buckets([[0.0005, 100]]), 0.99) - 0.495) < 1e-12);
});
