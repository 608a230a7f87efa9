import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A redis-server of a test's own, on a free port, for tests that stop it, FLUSHALL it or count
 * its commands (the stack's Redis is shared with other tests).
 *
 * @example
 *   const redis = await startPrivateRedis();
 *   t.after(() => redis.stop());
 *   redis.url // => 'redis://127.0.0.1:41234'
 */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** SHUTDOWN NOSAVE: the data is gone. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port (empty). */
  restart(): Promise<void>;
  /** Shuts it down (if running) and removes its folder. */
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'granary-redis-'));
  const start = async (): Promise<void> => {
    await run('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
      '--pidfile', join(dir, 'redis.pid'), '--dir', dir, '--logfile', join(dir, 'redis.log'),
    ]);
    for (let i = 0; i < 100; i++) {
      if (await cli(port, 'ping').then((out) => out.trim() === 'PONG', () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${port} did not start (see ${dir}/redis.log)`);
  };
  const shutdown = async (): Promise<void> => {
    await cli(port, 'shutdown', 'nosave').catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      if (!(await cli(port, 'ping').then(() => true, () => false))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    shutdown,
    restart: start,
    async stop() {
      await shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 2000 });
  if (/Could not connect|ERR/.test(stdout)) throw new Error(stdout);
  return stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
