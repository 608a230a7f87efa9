/**
 * Throwaway copies of the stack's services for tests that stop, kill and restart a server (the
 * fault tests): each on free ports, with its data in its own folder under `.granary/private/`,
 * so the shared stack of `npm run stack -- up` is never touched. Installed and started exactly
 * as the shared ones are (scripts/stack/).
 *
 * @example
 *   const redis = await startPrivateRedis();
 *   redis.url             // => 'redis://127.0.0.1:41237'
 *   await redis.kill();   // SIGKILL, as a crash would (Redis keeps no data on disk: it comes back empty)
 *   await redis.start();  // the same port and folder
 *   await redis.dispose(); // stop and delete the folder
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { localStack, STACK_PORT_VARIABLES, type LocalStack } from '../config/local-stack.ts';
import {
  ensureRunning,
  instanceStatus,
  killInstance,
  REPO_ROOT,
  stopInstance,
  type Instance,
  type Log,
  type ServiceName,
} from './stack/index.ts';

export interface PrivateServiceOptions {
  /** The folder under which the service gets its own; defaults to `<repo>/.granary/private`. */
  readonly root?: string;
  /** Install and start progress; defaults to stderr. */
  readonly log?: Log;
}

export interface PrivateService {
  readonly service: ServiceName;
  readonly port: number;
  readonly dir: string;
  /** The addresses of this copy (only its own service's entries are meaningful). */
  readonly stack: LocalStack;
  /** Starts it again (same port, same folder); does nothing when it is running. */
  start(): Promise<void>;
  /** Stops it gracefully. */
  stop(): Promise<void>;
  /** Kills it and its children with SIGKILL. */
  kill(): Promise<void>;
  running(): Promise<boolean>;
  /** Stops it and deletes its folder. Also done, by SIGKILL, when the process exits. */
  dispose(): Promise<void>;
}

export interface PrivateRedis extends PrivateService {
  readonly url: string;
}
export interface PrivatePostgres extends PrivateService {
  /** To the `granary` database, as user postgres. */
  readonly url: string;
}
export interface PrivateMinio extends PrivateService {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Created at start. */
  readonly bucket: string;
}
export interface PrivateTemporal extends PrivateService {
  readonly address: string;
  readonly namespace: string;
}

export async function startPrivateRedis(options?: PrivateServiceOptions): Promise<PrivateRedis> {
  const service = await startPrivate('redis', { redis: await freePort() }, options);
  return { ...service, url: service.stack.redis.url };
}

export async function startPrivatePostgres(options?: PrivateServiceOptions): Promise<PrivatePostgres> {
  const service = await startPrivate('postgres', { postgres: await freePort() }, options);
  return { ...service, url: service.stack.postgres.url };
}

export async function startPrivateMinio(options?: PrivateServiceOptions): Promise<PrivateMinio> {
  const service = await startPrivate('minio', { minio: await freePort(), minioConsole: await freePort() }, options);
  const { endpoint, accessKeyId, secretAccessKey, bucket } = service.stack.minio;
  return { ...service, endpoint, accessKeyId, secretAccessKey, bucket };
}

export async function startPrivateTemporal(options?: PrivateServiceOptions): Promise<PrivateTemporal> {
  const service = await startPrivate('temporal', { temporal: await freePort() }, options);
  return { ...service, address: service.stack.temporal.address, namespace: service.stack.temporal.namespace };
}

const live = new Set<Instance>();
let exitHooked = false;

async function startPrivate(
  service: ServiceName,
  ports: Partial<Record<keyof typeof STACK_PORT_VARIABLES, number>>,
  options: PrivateServiceOptions = {},
): Promise<PrivateService> {
  const root = options.root ?? join(REPO_ROOT, '.granary', 'private');
  mkdirSync(root, { recursive: true });
  const env = Object.fromEntries(Object.entries(ports).map(([key, port]) => [STACK_PORT_VARIABLES[key as keyof typeof STACK_PORT_VARIABLES], String(port)]));
  const dir = mkdtempSync(join(root, `${service}-`));
  chmodSync(dir, 0o755); // mkdtemp makes it 0700: PostgreSQL's server runs as another user
  const instance: Instance = { service, stack: localStack(env), dir };
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const port = Object.values(ports)[0] as number;
  if (!exitHooked) process.once('exit', killAllPrivate);
  exitHooked = true;
  live.add(instance);
  const handle: PrivateService = {
    service,
    port,
    dir: instance.dir,
    stack: instance.stack,
    start: async () => void (await ensureRunning(instance, log)),
    stop: async () => void (await stopInstance(instance)),
    kill: () => killInstance(instance),
    running: async () => (await instanceStatus(instance)).running,
    dispose: async () => {
      await stopInstance(instance);
      rmSync(instance.dir, { recursive: true, force: true });
      live.delete(instance);
    },
  };
  try {
    await handle.start();
  } catch (error) {
    await handle.dispose().catch(() => {});
    throw error;
  }
  return handle;
}

/** On exit (a test that forgot dispose, a failed assertion): SIGKILL what is left, delete its folders. */
function killAllPrivate(): void {
  for (const instance of live) {
    try {
      const pid = Number(readFileSync(join(instance.dir, 'pid'), 'utf8'));
      if (pid > 0) process.kill(-pid, 'SIGKILL');
    } catch {
      // not running
    }
    rmSync(instance.dir, { recursive: true, force: true });
  }
  live.clear();
}

/**
 * A port free right now on 127.0.0.1, below the kernel's ephemeral range (32768+). Fault tests
 * kill a server and start it again on the same port; in the ephemeral range, a client
 * reconnecting meanwhile can be given that very port as its own source port and connect to
 * itself (TCP simultaneous open), holding the port so the server cannot bind it again.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port found in 20000-31999 on 127.0.0.1');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
