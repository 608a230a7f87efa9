import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { clusterFixture, clusterServer, pollServing } from '../support/cluster-fixture.ts';
import { driverRows } from '../support/driver-stats.ts';

const run = promisify(execFile);

/**
 * Redis Cluster resharding, the way a store grows (`redis-cli --cluster reshard` moves hash slots
 * and their keys from one master to another, key by key, with ASK redirections and TRYAGAIN
 * while a slot is half moved), while commits are materialized and a feature server reads. A
 * bucket's rows and marker share a hash tag, so they move as one slot; a write or read that meets
 * a slot half moved is retried (the activity; a script is refused whole, never applied in part),
 * and a read of it is sent again key by key (each GET follows its redirection).
 * Ends on the invariant: online equals offline, and serving answers 200 again.
 */
test('Cluster: 4000 slots resharded from one master to another while commits materialize and a server reads: every commit applies, every read answers 200, online equals offline', { timeout: 300_000 }, async (t) => {
  const f = await clusterFixture('cluster_reshard');
  t.after(() => f.cluster.dispose());
  await f.startWorker();
  const first = await f.store.push('driver_stats', driverRows(4000, { entities: 2000 }), { batchId: 'b1' });
  assert.equal(first.materialized, true);

  const server = await clusterServer(t, f);
  const poll = pollServing(t, server.url, server.headers, 100, 20);

  // Commits, one after another, from before the reshard starts until after it ends.
  let writing = true;
  let last = first;
  const pushes: { from: number; to: number }[] = [];
  const writer = (async () => {
    for (let i = 2; writing && i <= 40; i++) {
      const from = performance.now();
      last = await f.store.push('driver_stats', driverRows(1000, { entities: 2000, now: Date.now() + i * 60_000, salt: i }), { batchId: `b${i}` });
      assert.equal(last.materialized, true, JSON.stringify(last));
      pushes.push({ from, to: performance.now() });
    }
  })();
  writer.catch(() => undefined);

  const [from, to] = await f.cluster.masters();
  const started = performance.now();
  let reshardedAt = 0;
  const reshard = run('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${from!.port}`, '--cluster-from', from!.id, '--cluster-to', to!.id, '--cluster-slots', '4000', '--cluster-yes'], {
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  }).finally(() => (reshardedAt = performance.now()));
  reshard.catch(() => undefined);
  const { stdout } = await reshard;
  const pushed = pushes.length;
  for (const deadline = Date.now() + 60_000; pushes.length === pushed; await new Promise((resolve) => setTimeout(resolve, 100))) {
    assert.ok(Date.now() < deadline, 'a commit after the reshard');
  }
  writing = false;
  await writer;
  const during = pushes.filter((p) => p.from < reshardedAt && p.to > started).length;
  assert.equal(new Set(stdout.match(/Moving slot \d+ from [\d.]+:\d+ to/g)).size, 4000, stdout.slice(-2000));
  const masters = await f.cluster.masters();
  assert.equal(masters.find((m) => m.id === from!.id)!.slots, from!.slots - 4000);
  assert.equal(masters.find((m) => m.id === to!.id)!.slots, to!.slots + 4000);

  // Serving: 200s again, with nothing but fast 503s while slots moved.
  for (const deadline = Date.now() + 30_000; ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const recent = poll.answers.filter((a) => a.at > reshardedAt);
    if (recent.length >= 10 && recent.slice(-10).every((a) => a.status === 200)) break;
    assert.ok(Date.now() < deadline, `serving did not answer 200 after the reshard: ${JSON.stringify(poll.answers.slice(-5))}`);
  }
  await poll.stop();
  const whileMoving = poll.answers.filter((a) => a.at >= started && a.at <= reshardedAt);
  const failed = whileMoving.filter((a) => a.status !== 200);
  const message = `reshard of 4000 slots took ${((reshardedAt - started) / 1000).toFixed(1)} s; ${during} commits materialized during it; serving: ${whileMoving.length} reads, ${failed.length} not 200 (${[...new Set(failed.map((a) => a.status))].join('/') || '-'}), slowest ${Math.round(Math.max(0, ...whileMoving.map((a) => a.ms)))} ms${failed.length ? `; first failure: ${failed[0]!.error}` : ''}`;
  t.diagnostic(message);
  console.log(message);
  assert.ok(whileMoving.length > 0 && during > 0, 'serving was polled and commits were materialized while the slots moved');
  // A read of a slot being moved is sent again key by key (mgetBySlot): no read fails.
  assert.deepEqual(failed, [], 'every read answered 200 while the slots moved');

  // The invariant: every commit applied, online equals offline.
  const [status] = await f.store.status(['driver_stats']);
  assert.deepEqual([status!.online, status!.onlineApplied], ['ok', last.seq], JSON.stringify(status));
  const [report] = await f.store.verify(['driver_stats']);
  assert.equal(report!.ok, true, report!.examples.join('\n'));
  assert.equal(report!.matching, 2000);
});
