import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LocalStack } from '../../config/local-stack.ts';
import { aptInstall, ensureAptBinary, ensureGoTool, GO_TOOLS, postgresBinDir, requireGoTool } from './installers.ts';
import { logFile, type Instance, type Log, type ServiceName } from './instance.ts';
import { ensureDir, isAlive, readPid, requireOnPath, runLogged, spawnDetached } from './process-control.ts';
import { ensureBucket, ensureDatabase, redisCommand, temporalAnswers, withPostgres } from './service-readiness.ts';
import { StackError } from './stack-error.ts';

/** What the stack knows of one kind of server: how to install, start, recognize and stop it. */
export interface ServiceDef {
  readonly title: string;
  /** A word of the server's command line, to tell a live pid of ours from a recycled one. */
  readonly processName: string;
  /**
   * The graceful stop. SIGINT is PostgreSQL's fast shutdown (what `pg_ctl stop -m fast` sends);
   * SIGTERM shuts Redis down saving its data (dump.rdb, loaded at the next start), MinIO and
   * Temporal cleanly.
   */
  readonly stopSignal: NodeJS.Signals;
  readonly startTimeoutMs: number;
  port(stack: LocalStack): number;
  /** Makes the server's binaries present (installing them if needed). */
  install(log: Log, i: Instance): Promise<void>;
  /** Starts the server in the background; returns its pid when known now. */
  launch(i: Instance): Promise<number | null>;
  /** The pid of a server that daemonized itself, once it answers. */
  pidAfterStart?(i: Instance): number | null;
  /** Whether a working server of this kind answers at the instance's address. */
  answers(i: Instance): Promise<boolean>;
  /** What it answers instead, for the error message when it never answers as it should. */
  probe?(i: Instance): Promise<string>;
  /** Once it answers: creates what Granary expects in it (database, bucket). */
  prepare?(i: Instance): Promise<void>;
}

/**
 * The four services, each described once: Redis, PostgreSQL, MinIO and the Temporal dev server,
 * their ports in `localStack()`, how each is installed and started (with its data, log and pid
 * file in the instance's folder), when it answers, and what Granary needs in it (the `granary`
 * database, the bucket). The life of an instance (lifecycle.ts) is the same for every service.
 *
 * @example
 *   SERVICES.redis.port(localStack())   // => 16379
 *   await SERVICES.postgres.answers(i)  // => true when SELECT 1 works at the instance's port
 */
export const SERVICES: Record<ServiceName, ServiceDef> = {
  redis: {
    title: 'Redis',
    processName: 'redis-server',
    stopSignal: 'SIGTERM',
    // It answers PING only once its saved data is loaded.
    startTimeoutMs: 120_000,
    port: (stack) => stack.redis.port,
    install: (log, i) => ensureAptBinary('redis-server', ['redis-server'], log, i),
    async launch(i) {
      const data = ensureDir(join(i.dir, 'data'));
      await runLogged(i, requireOnPath('redis-server'), [
        '--port', String(i.stack.redis.port), '--bind', i.stack.host,
        // No periodic snapshots and no AOF (no cost while it runs; a SIGKILL still loses the data,
        // as a crash would), but a graceful stop (SIGTERM: `stack down`) writes dump.rdb into
        // --dir and the next start loads it: a restart of the stack keeps the online store.
        '--save', '', '--appendonly', 'no', '--shutdown-on-sigterm', 'save', '--shutdown-on-sigint', 'save',
        '--daemonize', 'yes', '--pidfile', join(i.dir, 'redis-server.pid'), '--dir', data, '--logfile', logFile(i),
      ]);
      return null;
    },
    pidAfterStart: (i) => readPid(join(i.dir, 'redis-server.pid')),
    answers: async (i) => (await redisCommand(i.stack.host, i.stack.redis.port, ['PING']).catch(() => '')) === '+PONG',
    probe: async (i) => `PING got ${await redisCommand(i.stack.host, i.stack.redis.port, ['PING']).then(JSON.stringify, (e: Error) => e.message)}`,
  },

  postgres: {
    title: 'PostgreSQL',
    processName: 'postgres',
    stopSignal: 'SIGINT',
    startTimeoutMs: 90_000,
    port: (stack) => stack.postgres.port,
    async install(log, i) {
      if (postgresBinDir() === null) await aptInstall(['postgresql'], log, i);
      if (postgresBinDir() === null) throw new StackError('PostgreSQL was installed but no /usr/lib/postgresql/*/bin/postgres was found');
    },
    async launch(i) {
      const bin = postgresBinDir() as string;
      const run = postgresRunner(i);
      const data = join(i.dir, 'data');
      if (!existsSync(join(data, 'PG_VERSION'))) {
        rmSync(data, { recursive: true, force: true }); // a half-done initdb
        await run(join(bin, 'initdb'), ['-A', 'trust', '-U', 'postgres', '-D', data, '-E', 'UTF8', '--locale=C', '--no-sync']);
      }
      const port = i.stack.postgres.port;
      const sockets = socketDir(i.dir, port);
      // Lock files left by a killed server: postgres takes its unreaped zombie for a live one.
      for (const lock of [join(data, 'postmaster.pid'), join(sockets, `.s.PGSQL.${port}.lock`)]) {
        const holder = readPid(lock);
        if (holder !== null && !isAlive(holder)) rmSync(lock);
      }
      const options = `-p ${port} -k '${sockets}' -c listen_addresses=${i.stack.host} -c fsync=off`;
      await run(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile(i), '-w', '-t', '60', '-o', options, 'start']);
      return null;
    },
    pidAfterStart: (i) => readPid(join(i.dir, 'data', 'postmaster.pid')),
    answers: (i) => withPostgres(i, 'postgres', async (client) => (await client.query('SELECT 1 AS ok')).rows[0]?.ok === 1).catch(() => false),
    prepare: (i) => ensureDatabase(i),
  },

  minio: {
    title: 'MinIO',
    processName: 'minio',
    stopSignal: 'SIGTERM',
    startTimeoutMs: 60_000,
    port: (stack) => stack.minio.port,
    install: (log, i) => ensureGoTool(GO_TOOLS.minio, log, i).then(() => undefined),
    async launch(i) {
      const { host, minio } = i.stack;
      const data = ensureDir(join(i.dir, 'data'));
      return spawnDetached(i, requireGoTool(GO_TOOLS.minio), [
        'server', data, '--address', `${host}:${minio.port}`, '--console-address', `${host}:${minio.consolePort}`,
      ], { MINIO_ROOT_USER: minio.accessKeyId, MINIO_ROOT_PASSWORD: minio.secretAccessKey });
    },
    answers: async (i) => {
      const response = await fetch(`${i.stack.minio.endpoint}/minio/health/live`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return response?.ok === true;
    },
    prepare: (i) => ensureBucket(i.stack),
  },

  temporal: {
    title: 'Temporal dev server',
    processName: 'temporal',
    stopSignal: 'SIGTERM',
    startTimeoutMs: 90_000,
    port: (stack) => stack.temporal.port,
    install: (log, i) => ensureGoTool(GO_TOOLS.temporal, log, i).then(() => undefined),
    async launch(i) {
      const data = ensureDir(join(i.dir, 'data'));
      return spawnDetached(i, requireGoTool(GO_TOOLS.temporal), [
        'server', 'start-dev', '--headless', '--ip', i.stack.host, '--port', String(i.stack.temporal.port),
        '--db-filename', join(data, 'temporal.db'), '--log-level', 'warn',
      ]);
    },
    answers: (i) => temporalAnswers(i.stack),
  },
};

/** The port the instance's service listens on. */
export const portOf = (i: Instance): number => SERVICES[i.service].port(i.stack);
export const addressOf = (i: Instance): string => `${i.stack.host}:${portOf(i)}`;

/**
 * Runs PostgreSQL's programs for the instance. Its server refuses to run as root: as root, they
 * run as the `postgres` user, on a folder it owns.
 */
function postgresRunner(i: Instance): (program: string, args: readonly string[]) => Promise<void> {
  if (process.getuid?.() !== 0) return (program, args) => runLogged(i, program, args);
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new StackError(`PostgreSQL refuses to run as root and there is no 'postgres' user: apt-get install postgresql creates it`);
  const uid = Number(id.stdout.trim());
  for (let up = dirname(i.dir); up !== dirname(up); up = dirname(up)) {
    const stat = statSync(up);
    if (stat.uid !== uid && (stat.mode & 0o001) === 0) {
      throw new StackError(
        `PostgreSQL runs as the postgres user, who cannot enter ${up} (mode ${(stat.mode & 0o777).toString(8)}), which holds ${i.dir}.\n` +
          `Run: chmod o+x ${up}   (or clone the repo under a folder others can enter)`,
      );
    }
  }
  closeSync(openSync(logFile(i), 'a')); // the server appends to it as postgres
  const recursive = statSync(i.dir).uid !== uid ? ['-R'] : [];
  spawnSync('chown', [...recursive, 'postgres:postgres', i.dir, logFile(i)]);
  return (program, args) => runLogged(i, 'runuser', ['-u', 'postgres', '--', program, ...args]);
}

/** A folder for the Unix socket; the path of a socket is limited to 107 bytes. */
function socketDir(dir: string, port: number): string {
  const preferred = join(dir, 'data');
  return `${preferred}/.s.PGSQL.${port}`.length < 100 ? preferred : tmpdir();
}
