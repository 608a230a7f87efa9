// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailedAuthLimiter } from '../../access/failed-auth-limiter.ts';

/** The per-address budget of failed authentications (issue 18, item 7): a token bucket, bounded memory. */
test('an address gets its burst at once, then perSecond a second; another address has its own budget', () => {
  const limiter = new FailedAuthLimiter({ perSecond: 10, burst: 100 });
  const spent = (client: string, n: number, at: number) => Array.from({ length: n }, () => limiter.spend(client, at)).filter(Boolean).length;
  assert.equal(spent('10.0.0.1', 150, 0), 100, 'the burst');
  assert.equal(limiter.retryAfterSeconds('10.0.0.1'), 1);
  assert.equal(spent('10.0.0.1', 50, 500), 5, 'half a second refills 5');
  assert.equal(spent('10.0.0.1', 50, 2500), 20, 'two more seconds refill 20');
  assert.equal(spent('10.0.0.2', 150, 2500), 100, 'an address of its own');
  assert.equal(spent('10.0.0.1', 500, 1_000_000), 100, 'a long pause refills the burst, not more');
});

test('the default burst is 10 x perSecond; a slow limit asks for a longer Retry-After', () => {
  assert.equal(new FailedAuthLimiter({ perSecond: 3 }).burst, 30);
  const slow = new FailedAuthLimiter({ perSecond: 0.1, burst: 1 });
  assert.equal(slow.spend('a', 0), true);
  assert.equal(slow.spend('a', 0), false);
  assert.equal(slow.retryAfterSeconds('a'), 10);
  assert.throws(() => new FailedAuthLimiter({ perSecond: 0 }), /perSecond must be > 0/);
});

test('memory is bounded: past maxClients the least recently failing address is forgotten (and starts with a full bucket)', () => {
  const limiter = new FailedAuthLimiter({ perSecond: 1, burst: 1, maxClients: 3 });
  for (const client of ['a', 'b', 'c']) assert.equal(limiter.spend(client, 0), true);
  assert.equal(limiter.spend('a', 0), false, 'a failed again: now the most recent');
  assert.equal(limiter.spend('d', 0), true);
  assert.equal(limiter.size, 3);
  assert.equal(limiter.spend('b', 0), true, 'b was the oldest and was forgotten');
  assert.equal(limiter.spend('a', 0), false, 'a was kept');
});
