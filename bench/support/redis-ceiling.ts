import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';

const run = promisify(execFile);

export interface HsetCeilingOptions {
  /** HSETs sent (-n). */
  readonly requests: number;
  /** Distinct keys (-r): `__rand_int__` in the key is replaced by 0..keyspace-1. */
  readonly keyspace: number;
  /** The key, with `__rand_int__` in it. */
  readonly key: string;
  /** Fields per HSET (default 10). */
  readonly fields?: number;
}

/**
 * The ceiling a Redis write path is measured against: redis-benchmark HSET of `fields` fields,
 * pipelined 16 deep over 50 connections, on the same Redis. Returns requests per second.
 *
 * @example
 *   await redisBenchmarkHset('redis://127.0.0.1:16379', { requests: 1_000_000, keyspace: 100_000, key: 'p-rb:h:__rand_int__' })
 *   // => 377000
 */
export async function redisBenchmarkHset(url: string, options: HsetCeilingOptions): Promise<number> {
  const { hostname, port } = new URL(url);
  const fields = Array.from({ length: options.fields ?? 10 }, (_, i) => [`f${i}`, `v${i}`]).flat();
  const { stdout } = await run(
    'redis-benchmark',
    ['-h', hostname, '-p', port || '6379', '-q', '-n', String(options.requests), '-P', '16', '-c', '50', '-r', String(options.keyspace),
      'hset', options.key, ...fields],
    { maxBuffer: 64 << 20 },
  );
  const last = stdout.split(/\r|\n/).filter((line) => line.includes('requests per second')).pop() ?? '';
  return Math.round(Number(/([\d.]+) requests per second/.exec(last)?.[1] ?? NaN));
}

/**
 * The ceiling of layout 2's write (one packed string per entity): redis-benchmark
 * `SET key <valueBytes bytes> PXAT <a day ahead>`, pipelined 16 deep over 50 connections, on the
 * same Redis. Returns requests per second.
 *
 * @example
 *   await redisBenchmarkSet('redis://127.0.0.1:16379', { requests: 1_000_000, keyspace: 100_000, key: 'p-rb:s:__rand_int__', valueBytes: 99 })
 */
export async function redisBenchmarkSet(url: string, options: Omit<HsetCeilingOptions, 'fields'> & { readonly valueBytes: number }): Promise<number> {
  const { hostname, port } = new URL(url);
  const { stdout } = await run(
    'redis-benchmark',
    ['-h', hostname, '-p', port || '6379', '-q', '-n', String(options.requests), '-P', '16', '-c', '50', '-r', String(options.keyspace),
      'set', options.key, 'x'.repeat(options.valueBytes), 'PXAT', String(Date.now() + 86_400_000)],
    { maxBuffer: 64 << 20 },
  );
  const last = stdout.split(/\r|\n/).filter((line) => line.includes('requests per second')).pop() ?? '';
  return Math.round(Number(/([\d.]+) requests per second/.exec(last)?.[1] ?? NaN));
}

/** Unlinks every key matching the pattern (SCAN, 5000 at a time). */
export async function deleteByPattern(raw: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await raw.unlink(...keys);
  } while (cursor !== '0');
}
