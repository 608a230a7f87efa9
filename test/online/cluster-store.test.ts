import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tableFromArrays } from 'apache-arrow';
import { Cluster } from 'ioredis';
import { startPrivateRedisCluster, type PrivateRedisCluster } from '../../scripts/private-services.ts';
import { encodeEntityKey } from '../../stores/online/key-layout.ts';
import { ROW_COMPARISON, type OnlineColumns, type OnlineRow, type OnlineTarget } from '../../stores/online/online-store.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { testTarget } from './online-fixtures.ts';
import { keysPerMaster as keysOnMasters } from '../support/keys-per-master.ts';

/**
 * Issue 15 item 4: the online store's contract on a real Redis Cluster (3 masters, 3 replicas,
 * a private one for this file): rows spread over every master, calls and reads grouped by slot
 * and node, a marker per bucket in the bucket's slot (the fence, the applied seq), SCAN on every
 * master, the masters' run ids as the instance id.
 */
let cluster: PrivateRedisCluster;
let url: string;
let raw: Cluster;
let prefixes = 0;

before(async () => {
  cluster = await startPrivateRedisCluster({ log: () => undefined });
  url = `redis+cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  raw = new Cluster([...cluster.nodes], { scaleReads: 'master' });
  raw.on('error', () => undefined);
});

after(async () => {
  raw?.disconnect();
  await cluster?.dispose();
});

function openStore(t: { after(fn: () => Promise<void>): void }): RedisOnlineStore {
  const store = new RedisOnlineStore({ url, keyPrefix: `gc${++prefixes}` });
  t.after(() => store.close());
  return store;
}

const target = (overrides: Partial<OnlineTarget> = {}): OnlineTarget => testTarget({ project: 'shop', view: 'user_stats', ...overrides });

function rowsOf(count: number, eventTime: number, salt = 0): OnlineRow[] {
  return Array.from({ length: count }, (_, i) => ({
    entityKey: [`u${i}`],
    values: { spend: i / 4 + salt, orders: BigInt(i * 1000 + salt), country: i % 7 === 0 ? null : `c${i % 3}` },
    eventTime: eventTime - (i % 100),
    createdTime: salt,
  }));
}

function columnsOf(rows: readonly OnlineRow[]): OnlineColumns {
  return {
    keys: rows.map((r) => encodeEntityKey(r.entityKey)),
    eventTimes: rows.map((r) => r.eventTime),
    createdTimes: rows.map((r) => r.createdTime),
    values: {
      spend: rows.map((r) => r.values.spend ?? null),
      orders: rows.map((r) => r.values.orders ?? null),
      country: rows.map((r) => r.values.country ?? null),
    },
  };
}

/** The rows as columns carrying an Arrow source (as a rebuild's build sends them): spend and orders; country has no column, so null. */
function arrowColumnsOf(rows: readonly OnlineRow[]): OnlineColumns {
  const table = tableFromArrays({
    spend: Float64Array.from(rows, (r) => r.values.spend as number),
    orders: BigInt64Array.from(rows, (r) => r.values.orders as bigint),
  });
  return { ...columnsOf(rows), source: { table, rows: Int32Array.from(rows, (_, i) => i) } };
}

/** Keys of a pattern on each master (SCAN per node). */
function keysPerMaster(pattern: string): Promise<number[]> {
  return keysOnMasters(raw, pattern);
}

test('Cluster: rows spread over every master; one readRows (MGET per slot, a pipeline per node) returns them, missing entities null, a subset of features', async (t) => {
  const store = openStore(t);
  assert.equal(store.clustered, true);
  const views = [target(), target({ view: 'user_clicks', ttlSeconds: 3600 })];
  const now = Date.now();
  for (const view of views) await store.markGeneration(view);
  const rows = rowsOf(3000, now);
  assert.deepEqual(await store.writeRows(views[0]!, rows), { written: 3000, skipped: 0, expired: 0 });
  assert.deepEqual(await store.writeRows(views[1]!, rows.slice(0, 1000)), { written: 1000, skipped: 0, expired: 0 });
  const perMaster = await keysPerMaster(`gc${prefixes}:{*`);
  assert.equal(perMaster.length, 3);
  assert.ok(perMaster.every((n) => n > 500), `rows on every master: ${perMaster}`);

  const wanted = [...rows.slice(0, 150).map((r) => r.entityKey), ['nobody']];
  const [all, some] = await store.readRows([
    { target: views[0]!, entityKeys: wanted },
    { target: views[1]!, entityKeys: [['u999'], ['u1000'], ['u3']], features: ['orders'] },
  ]);
  assert.equal(all!.length, 151);
  for (let i = 0; i < 150; i++) assert.deepEqual(all![i], rows[i]);
  assert.equal(all![150], null);
  assert.deepEqual(some!.map((r) => r?.values ?? null), [{ orders: 999_000n }, null, { orders: 3000n }]);
});

test('Cluster: the monotonic write decides per row in Redis (older and equal rows skipped); replaceRow and compareRows work per bucket', async (t) => {
  const store = openStore(t);
  const view = target();
  await store.markGeneration(view);
  const now = Date.now();
  await store.writeRows(view, rowsOf(500, now, 2));
  assert.deepEqual(await store.writeRows(view, rowsOf(500, now, 1)), { written: 0, skipped: 500, expired: 0 }, 'older created time: skipped');
  assert.deepEqual(await store.writeRows(view, rowsOf(500, now, 2)), { written: 0, skipped: 500, expired: 0 }, 'equal: skipped');
  assert.deepEqual(await store.writeRows(view, rowsOf(500, now, 3)), { written: 500, skipped: 0, expired: 0 });

  const expected = rowsOf(500, now, 3);
  const changed = expected.map((r, i) => (i % 10 === 1 ? { ...r, values: { ...r.values, spend: -1 } } : r));
  const withAbsent = [...changed, { entityKey: ['ghost'], values: {}, eventTime: now, createdTime: 0 }];
  const codes = await store.compareRows(view, columnsOf(withAbsent));
  for (let i = 0; i < 500; i++) assert.equal(codes[i], i % 10 === 1 ? ROW_COMPARISON.differs : ROW_COMPARISON.same, `row ${i}`);
  assert.equal(codes[500], ROW_COMPARISON.absent);

  const current = expected[7]!;
  assert.equal(await store.replaceRow(view, ['u7'], { eventTime: current.eventTime, createdTime: current.createdTime }, { ...current, eventTime: now - 10_000 }), 'written');
  assert.equal(await store.replaceRow(view, ['u7'], { eventTime: current.eventTime, createdTime: current.createdTime }, null), 'conflict');
  assert.equal((await store.readRows([{ target: view, entityKeys: [['u7']] }]))[0]![0]!.eventTime, now - 10_000);
});

test('Cluster: a marker per bucket in its slot; applied seq is the lowest bucket (a bucket whose marker is gone reads 0), recordApplied raises every bucket', async (t) => {
  const store = openStore(t);
  const view = target({ generation: 4 });
  assert.equal(await store.appliedSeq(view), null);
  assert.equal(await store.recordApplied(view, 3), null, 'no generation marker: nothing recorded');
  await store.markGeneration(view);
  assert.equal(await store.hasGenerationMarker(view), true);
  assert.equal(await store.appliedSeq(view), 0);
  assert.deepEqual((await keysPerMaster(`gc${prefixes}:marker{*`)).reduce((a, b) => a + b, 0), 256, 'one marker per bucket');
  assert.equal(await store.recordApplied(view, 12), 12);
  assert.equal(await store.recordApplied(view, 9), 12, 'never lowered');
  assert.equal(await store.appliedSeq(view), 12);
  await store.markGeneration(view);
  assert.equal(await store.appliedSeq(view), 12, 'marking again keeps every bucket');

  // A node that lost writes: one bucket's marker behind, another's gone.
  await raw.hset(store.layout.bucketMarkerKey(view, 17), 'applied', '5');
  assert.equal(await store.appliedSeq(view), 5);
  await raw.del(store.layout.bucketMarkerKey(view, 200));
  assert.equal(await store.appliedSeq(view), 0);
  assert.equal(await store.recordApplied(view, 13), 13);
  assert.equal(await store.appliedSeq(view), 13);

  const id = await store.instanceId();
  assert.match(id, /^[0-9a-f]{40}(,[0-9a-f]{40}){2}$/, 'the three masters\' run ids');
  assert.equal(await store.instanceId(), id);
});

test('Cluster: the rebuild\'s fenced write is plain per bucket while its marker records nothing applied, monotonic once it does', async (t) => {
  const store = openStore(t);
  const view = target({ generation: 2 });
  await store.markGeneration(view);
  const now = Date.now();
  const newer = rowsOf(400, now, 5);
  const older = rowsOf(400, now, 1);
  await store.writeNewRows(view, columnsOf(newer));
  assert.deepEqual(await store.writeNewRows(view, columnsOf(older)), { written: 400, skipped: 0, expired: 0 }, 'fence open: put plainly');
  // Close the fence of one bucket only: that bucket's rows become monotonic.
  const bucketOf = async (r: OnlineRow) => Number(/:(\d+)\}/.exec(await store.rowKey(view, r.entityKey))![1]);
  const bucket = await bucketOf(older[0]!);
  const inBucket = await Promise.all(older.map(async (r) => (await bucketOf(r)) === bucket));
  await raw.hset(store.layout.bucketMarkerKey(view, bucket), 'applied', '1');
  const result = await store.writeNewRows(view, columnsOf(newer));
  const n = inBucket.filter(Boolean).length;
  assert.ok(n > 0);
  assert.deepEqual(result, { written: 400, skipped: 0, expired: 0 }, 'newer rows are written either way');
  assert.deepEqual(await store.writeNewRows(view, columnsOf(older)), { written: 400 - n, skipped: n, expired: 0 }, `the ${n} rows of bucket ${bucket} are compared`);
  await store.recordApplied(view, 1);
  assert.deepEqual(await store.writeNewRows(view, columnsOf(newer)), { written: 400 - n, skipped: n, expired: 0 }, 'the closed bucket kept its newer rows');
  assert.deepEqual(await store.writeNewRows(view, columnsOf(older)), { written: 0, skipped: 400, expired: 0 }, 'every fence closed: monotonic');
});

test('Cluster: the build write from Arrow (one blob per call) stores what the write from JS values stores, counts its keys per bucket and keeps each bucket\'s fence', async (t) => {
  const store = openStore(t);
  const fromArrow = target({ generation: 3 });
  const fromValues = target({ generation: 4 });
  await store.markGeneration(fromArrow);
  await store.markGeneration(fromValues);
  const now = Date.now();
  const newer = rowsOf(400, now, 5);
  const older = rowsOf(400, now, 1);
  const withoutCountry = (rows: readonly OnlineRow[]) => rows.map((r) => ({ ...r, values: { ...r.values, country: null } }));
  assert.deepEqual(await store.writeNewRows(fromValues, columnsOf(withoutCountry(older))), { written: 400, skipped: 0, expired: 0 });
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowColumnsOf(older)), { written: 400, skipped: 0, expired: 0 });
  for (const r of older) {
    const [a, b] = [await store.rowKey(fromValues, r.entityKey), await store.rowKey(fromArrow, r.entityKey)];
    assert.deepEqual(await raw.getBuffer(b), await raw.getBuffer(a), `${r.entityKey}: same bytes`);
    assert.equal(await raw.call('PEXPIRETIME', b), await raw.call('PEXPIRETIME', a), `${r.entityKey}: same expiry`);
  }
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowColumnsOf(newer)), { written: 400, skipped: 0, expired: 0 });
  assert.equal(await store.countedRowKeys(fromArrow), 400);
  assert.equal(await store.countedRowKeys(fromValues), 400);
  // Close the fence of one bucket only: that bucket's older rows are skipped, the others put plainly.
  const bucketOf = async (r: OnlineRow) => Number(/:(\d+)\}/.exec(await store.rowKey(fromArrow, r.entityKey))![1]);
  const bucket = await bucketOf(older[0]!);
  const n = (await Promise.all(older.map(async (r) => (await bucketOf(r)) === bucket))).filter(Boolean).length;
  await raw.hset(store.layout.bucketMarkerKey(fromArrow, bucket), 'applied', '1');
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowColumnsOf(older)), { written: 400 - n, skipped: n, expired: 0 }, `the ${n} rows of bucket ${bucket} are compared`);
  await store.recordApplied(fromArrow, 1);
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowColumnsOf(older)), { written: 0, skipped: 400, expired: 0 }, 'every fence closed: monotonic');
  // 10 new entities after the seal, through the monotonic path: each counted in its bucket.
  assert.deepEqual(await store.writeNewRows(fromArrow, arrowColumnsOf(rowsOf(410, now, 9).slice(400))), { written: 10, skipped: 0, expired: 0 });
  assert.equal(await store.countedRowKeys(fromArrow), 410);
  assert.equal(await store.countRowKeys(fromArrow), 410);
});

test('Cluster: scanRows and countRowKeys SCAN every master; dropGeneration removes rows, bucket markers and marker, nothing else', async (t) => {
  const store = openStore(t);
  const dropped = target({ generation: 1 });
  const kept = target({ generation: 10 });
  const now = Date.now();
  for (const view of [dropped, kept]) {
    await store.markGeneration(view);
    await store.writeRows(view, rowsOf(view === dropped ? 5000 : 50, now));
  }
  assert.equal(await store.countRowKeys(dropped), 5000);
  const scanned: OnlineRow[] = [];
  for await (const batch of store.scanRows(dropped, 700)) scanned.push(...batch);
  assert.equal(scanned.length, 5000);
  assert.equal(new Set(scanned.map((r) => r.entityKey[0])).size, 5000, 'each entity once');

  assert.equal(await store.dropGeneration(dropped), 5000 + 256 + 1);
  assert.equal(await store.countRowKeys(dropped), 0);
  assert.equal(await store.hasGenerationMarker(dropped), false);
  assert.equal(await store.countRowKeys(kept), 50);
  assert.equal(await store.appliedSeq(kept), 0);
});

test('Cluster: each bucket marker keeps the count of its bucket\'s row keys; a bucket marker made again leaves the generation uncounted', async (t) => {
  const store = openStore(t);
  const view = target({ generation: 3 });
  const now = Date.now();
  await store.markGeneration(view);
  assert.equal(await store.countedRowKeys(view), 0);
  await store.writeNewRows(view, columnsOf(rowsOf(5000, now)));
  await store.writeNewRows(view, columnsOf(rowsOf(5000, now))); // a retry: no key new
  await store.recordApplied(view, 2);
  await store.writeRows(view, rowsOf(5050, now + 1, 1)); // 50 new entities, 5000 newer rows
  assert.equal(await store.countedRowKeys(view), 5050);
  assert.equal(await store.countRowKeys(view), 5050);
  // A bucket's marker lost (a failover) and made again: that bucket's count is gone with it.
  await raw.del(store.layout.bucketMarkerKey(view, 17));
  await store.markGeneration(view);
  assert.equal(await store.countedRowKeys(view), undefined);
});

test('Cluster: layout 1 is refused (its calls span slots)', () => {
  assert.throws(() => new RedisOnlineStore({ url: 'redis+cluster://127.0.0.1:1', keyPrefix: 'x', newGenerationLayout: 1 }), /layout-2 generations only/);
  assert.throws(() => new RedisOnlineStore({ url: 'redis+cluster://127.0.0.1', keyPrefix: 'x' }), /seed node 1 must be host:port/);
});
