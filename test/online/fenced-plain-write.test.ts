import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OnlineColumns, OnlineRow, OnlineTarget } from '../../stores/online/online-store.ts';
import type { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { RespConnection, RespWriter } from '../../stores/online/resp-connection.ts';
import { openTestStore, STACK_REDIS_URL, testTarget } from './online-fixtures.ts';

const HOUR = 3_600_000;

function columns(rows: readonly { key: string; spend: number; eventTime: number }[]): OnlineColumns {
  return {
    keys: rows.map((r) => r.key),
    eventTimes: rows.map((r) => r.eventTime),
    createdTimes: rows.map(() => 0),
    values: { spend: rows.map((r) => r.spend), orders: rows.map(() => 7n) },
  };
}

async function spendOf(store: RedisOnlineStore, target: OnlineTarget, keys: readonly string[]): Promise<(number | null)[]> {
  const [rows] = await store.readRows([{ target, entityKeys: keys.map((k) => [k]) }]);
  return rows!.map((r: OnlineRow | null) => (r?.values.spend as number | undefined) ?? null);
}

const many = (n: number, spend: number, eventTime: number) => Array.from({ length: n }, (_, i) => ({ key: `u${i}`, spend, eventTime }));

test('writeNewRows, plain path: MULTI / EXEC while the fence is open, no script; the counts of the script', async (t) => {
  const { store, raw } = await openTestStore(t, { writeChunkSize: 100 });
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  const rows = [...many(250, 1, now - HOUR), { key: 'gone', spend: 1, eventTime: now - 30 * 24 * HOUR }];
  assert.deepEqual(await store.writeNewRows(target, columns(rows)), { written: 250, skipped: 0, expired: 1 });
  assert.deepEqual(store.buildWritePaths, { plainRows: 251, scriptRows: 0 });
  assert.deepEqual(await spendOf(store, target, ['u0', 'u249', 'gone']), [1, 1, null]);
  // The count of the generation's row keys: 250 created, kept in the plain count key, not the marker.
  assert.equal(await store.countedRowKeys(target), 250);
  assert.equal(await raw.get(store.layout.plainCountKey(store.layout.markerKey(target))), '250');
  assert.equal(await raw.hget(store.layout.markerKey(target), 'rows'), '0');
  const ttl = await raw.pttl(await store.rowKey(target, ['u0']));
  assert.ok(ttl > 0 && ttl <= 2 * 86_400_000, `expiry kept: ${ttl}`);
  // The same rows again (a retried attempt): written again, same counts.
  assert.deepEqual(await store.writeNewRows(target, columns(rows)), { written: 250, skipped: 0, expired: 1 });
  assert.deepEqual(store.buildWritePaths, { plainRows: 502, scriptRows: 0 });
  assert.equal(await store.countedRowKeys(target), 250, 'the keys that existed are taken back after EXEC');
  // Expired rows over stored ones: deleted, and taken back from the count.
  assert.deepEqual(await store.writeNewRows(target, columns([{ key: 'u1', spend: 1, eventTime: now - 30 * 24 * HOUR }, { key: 'u2', spend: 1, eventTime: now - 30 * 24 * HOUR }])), { written: 0, skipped: 0, expired: 2 });
  assert.equal(await store.countedRowKeys(target), 248);
  assert.equal(await store.countRowKeys(target), 248);

  // plainBuildWrite false: every row through the fenced script, same counts and bytes.
  const scripted = await openTestStore(t, { writeChunkSize: 100, plainBuildWrite: false });
  await scripted.store.markGeneration(target);
  assert.deepEqual(await scripted.store.writeNewRows(target, columns(rows)), { written: 250, skipped: 0, expired: 1 });
  assert.deepEqual(scripted.store.buildWritePaths, { plainRows: 0, scriptRows: 251 });
  const key = await store.rowKey(target, ['u7']);
  assert.deepEqual(await scripted.raw.getBuffer(await scripted.store.rowKey(target, ['u7'])), await raw.getBuffer(key));
  assert.equal(await scripted.store.countedRowKeys(target), 250);
  assert.equal(await scripted.raw.exists(scripted.store.layout.plainCountKey(scripted.store.layout.markerKey(target))), 0);
});

test('writeNewRows, plain path: a key of another type refuses its SET ... GET; the chunk goes through the script, which replaces it, and the count stays exact', async (t) => {
  const { store, raw } = await openTestStore(t);
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  assert.deepEqual(await store.writeNewRows(target, columns(many(5, 1, now - HOUR))), { written: 5, skipped: 0, expired: 0 });
  await raw.del(await store.rowKey(target, ['u3']));
  await raw.hset(await store.rowKey(target, ['u3']), 'not', 'a row');
  assert.deepEqual(await store.writeNewRows(target, columns(many(8, 2, now - HOUR / 2))), { written: 8, skipped: 0, expired: 0 });
  assert.deepEqual(store.buildWritePaths, { plainRows: 5, scriptRows: 8 });
  assert.deepEqual(await spendOf(store, target, ['u0', 'u3', 'u7']), [2, 2, 2]);
  assert.equal(await store.countRowKeys(target), 8);
  assert.equal(await store.countedRowKeys(target), 8);
  // dropGeneration takes the plain count key with the marker, and does not count it.
  assert.equal(await store.dropGeneration(target), 9);
  assert.equal(await raw.exists(store.layout.plainCountKey(store.layout.markerKey(target))), 0);
});

test('writeNewRows, plain path: a marker touched between the fence read and EXEC writes nothing plainly; the script then never rolls a newer row back', async (t) => {
  let touch: (() => Promise<void>) | undefined;
  const { store } = await openTestStore(t, { writeChunkSize: 1000, afterFenceRead: () => (touch ? touch() : Promise.resolve()) });
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  // Between the build's fence read and its EXEC: the build is sealed and a catch-up writes a newer u3.
  touch = async () => {
    touch = undefined;
    assert.equal(await store.recordApplied(target, 5), 5);
    assert.deepEqual(await store.writeRows(target, [{ entityKey: ['u3'], values: { spend: 2 }, eventTime: now - 1000, createdTime: 0 }]), { written: 1, skipped: 0, expired: 0 });
  };
  assert.deepEqual(await store.writeNewRows(target, columns(many(20, 1, now - HOUR))), { written: 19, skipped: 1, expired: 0 });
  assert.equal(touch, undefined, 'the hook ran');
  assert.deepEqual(store.buildWritePaths, { plainRows: 0, scriptRows: 20 });
  assert.deepEqual(await spendOf(store, target, ['u2', 'u3', 'u4']), [1, 2, 1]);
});

test('writeNewRows, plain path: a touch that leaves the fence open goes through the script, which writes plainly', async (t) => {
  let touch: (() => Promise<void>) | undefined;
  const { store, raw } = await openTestStore(t, { afterFenceRead: () => (touch ? touch() : Promise.resolve()) });
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  touch = async () => {
    touch = undefined;
    await raw.hset(store.layout.markerKey(target), 'touchedBy', 'test');
  };
  assert.deepEqual(await store.writeNewRows(target, columns(many(10, 1, now - HOUR))), { written: 10, skipped: 0, expired: 0 });
  assert.deepEqual(store.buildWritePaths, { plainRows: 0, scriptRows: 10 });
  // The next chunk, untouched, is plain again.
  assert.deepEqual(await store.writeNewRows(target, columns(many(10, 2, now - HOUR / 2))), { written: 10, skipped: 0, expired: 0 });
  assert.deepEqual(store.buildWritePaths, { plainRows: 10, scriptRows: 10 });
  assert.deepEqual(await spendOf(store, target, ['u0', 'u9']), [2, 2]);
});

test('writeNewRows after the seal (a zombie build attempt) or without a marker: never plain, rolls nothing back', async (t) => {
  const { store, raw } = await openTestStore(t);
  const target = testTarget();
  const now = Date.now();
  await store.markGeneration(target);
  assert.deepEqual(await store.writeNewRows(target, columns(many(5, 1, now - HOUR))), { written: 5, skipped: 0, expired: 0 });
  assert.equal(await store.recordApplied(target, 3), 3);
  assert.deepEqual(await store.writeRows(target, [{ entityKey: ['u1'], values: { spend: 2 }, eventTime: now - 1000, createdTime: 0 }]), { written: 1, skipped: 0, expired: 0 });
  const before = { ...store.buildWritePaths };
  // The zombie's rows: u0 and u2 as stored (not newer), u1 older than the catch-up's, a new u9.
  assert.deepEqual(await store.writeNewRows(target, columns([...many(3, 1, now - HOUR), { key: 'u9', spend: 1, eventTime: now - HOUR }])), { written: 1, skipped: 3, expired: 0 });
  assert.deepEqual(store.buildWritePaths, { plainRows: before.plainRows, scriptRows: before.scriptRows + 4 });
  assert.deepEqual(await spendOf(store, target, ['u0', 'u1', 'u9']), [1, 2, 1]);

  await raw.del(store.layout.markerKey(target));
  assert.deepEqual(await store.writeNewRows(target, columns([{ key: 'u1', spend: 9, eventTime: now - HOUR }])), { written: 0, skipped: 1, expired: 0 });
  assert.deepEqual(await spendOf(store, target, ['u1']), [2]);
  assert.equal(store.buildWritePaths.plainRows, before.plainRows);
});

test('RespConnection: replies in order, nil, integers, errors as values, arrays; a closed connection rejects', async () => {
  const url = new URL(STACK_REDIS_URL);
  const connection = await RespConnection.open({ host: url.hostname, port: Number(url.port), connectTimeoutMs: 2000 });
  const key = `granary-test-resp-${process.pid}`;
  const value = Buffer.from([0, 13, 10, 255, 36]);
  const replies = await connection.send(
    new RespWriter(8)
      .setPxatGet(key, Buffer.concat([Buffer.from('xx'), value]), 2, 2 + value.length, Date.now() + 60_000)
      .command('GET', key)
      .command('GET', `${key}-none`)
      .command('EXISTS', key)
      .command('HGET', key, 'f')
      .command('MULTI')
      .command('EXISTS', key)
      .command('DEL', key)
      .command('EXEC')
      .toBuffer(),
    9,
  );
  assert.deepEqual(replies.slice(0, 4), [null, value, null, 1]);
  assert.match((replies[4] as { message: string }).message, /WRONGTYPE/);
  assert.deepEqual(replies.slice(5), ['OK', 'QUEUED', 'QUEUED', [1, 1]]);
  // A key that is not ASCII: its length in bytes, not in UTF-16 units.
  const wide = `${key}-é€😀`;
  const [set, got] = await connection.send(new RespWriter(8).setPxatGet(wide, value, 1, 4, Date.now() + 60_000).command('GET', wide).command('DEL', wide).toBuffer(), 3);
  assert.deepEqual([set, got], [null, value.subarray(1, 4)]);
  connection.close();
  assert.equal(connection.isBroken, true);
  await assert.rejects(connection.send(new RespWriter().command('PING').toBuffer(), 1));
});
