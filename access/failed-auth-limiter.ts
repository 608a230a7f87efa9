/**
 * A token bucket of failed authentications per client (its remote address): `perSecond` refill,
 * `burst` capacity. Only failures spend it; a request with a valid token is served whatever the
 * bucket of its address holds, so a consumer sharing an address with an attacker (a NAT, a proxy,
 * loopback) keeps reading. Once an address's bucket is empty, its failures are answered 429 with
 * `Retry-After` instead of 401: a client guessing or looping on a bad token is told to back off,
 * and the refusals are counted apart. Memory is bounded: at most `maxClients` addresses, the
 * least recently failing forgotten first (a forgotten address starts again with a full bucket).
 *
 * @example
 *   const limiter = new FailedAuthLimiter({ perSecond: 10, burst: 100 });
 *   limiter.spend('10.0.0.9', 0)      // => true  (a 401), 99 failures left at once
 *   // ...100 failures within a second later:
 *   limiter.spend('10.0.0.9', 50)     // => false (a 429); 10 more are allowed each second
 */
export interface FailedAuthLimiterOptions {
  /** Failures per second an address may make once its burst is spent. */
  readonly perSecond: number;
  /** Failures an address may make at once. Default 10 x perSecond. */
  readonly burst?: number;
  /** Addresses remembered at most. Default 10,000. */
  readonly maxClients?: number;
}

export class FailedAuthLimiter {
  readonly perSecond: number;
  readonly burst: number;
  private readonly maxClients: number;
  /** By address: tokens left and when they were counted; in order of last failure (oldest first). */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: FailedAuthLimiterOptions) {
    if (!(options.perSecond > 0)) throw new RangeError(`perSecond must be > 0, got ${options.perSecond}`);
    this.perSecond = options.perSecond;
    this.burst = options.burst ?? Math.max(1, Math.round(10 * options.perSecond));
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Records a failed authentication of `client`: true when it is within its budget (401), false when over it (429). */
  spend(client: string, now = performance.now()): boolean {
    const bucket = this.buckets.get(client);
    let tokens = this.burst;
    if (bucket) {
      tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
      this.buckets.delete(client); // re-inserted last: the map stays in order of last failure
    } else if (this.buckets.size >= this.maxClients) {
      this.buckets.delete(this.buckets.keys().next().value!);
    }
    const allowed = tokens >= 1;
    this.buckets.set(client, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed;
  }

  /** Seconds until `client` may fail again without a 429 (at least 1), for Retry-After. */
  retryAfterSeconds(client: string): number {
    const tokens = this.buckets.get(client)?.tokens ?? this.burst;
    return Math.max(1, Math.ceil((1 - tokens) / this.perSecond));
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.buckets.size;
  }
}
