/**
 * The local stack without Docker: Redis, PostgreSQL, MinIO and a Temporal dev server on
 * 127.0.0.1, at the ports of `localStack()`. A missing server is installed first (apt-get for
 * Redis and PostgreSQL, `go install` of a pinned version for MinIO and Temporal), then started in
 * the background with its data, log and pid file under `.granary/stack/<service>/`. Whatever
 * already answers on a service's port is reused, so `up` is idempotent; `down` stops only what
 * `up` started.
 *
 * @example
 *   npm run stack -- up               # install what is missing, start, wait until each answers
 *   npm run stack -- status --json    # each service: address, running, pid, started by whom
 *   eval "$(npm run -s stack -- env)" # export GRANARY_REDIS_URL=redis://127.0.0.1:16379 ...
 *   npm run stack -- down
 *
 *   import { stackUp, stackEnv } from './stack.ts';
 *   await stackUp();                   // => [{ service: 'redis', action: 'started', pid: 4242, ... }, ...]
 *   stackEnv().GRANARY_REDIS_URL       // => 'redis://127.0.0.1:16379'
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { CONFIG_VARIABLES } from '../config/granary-config.ts';
import { localStack, STACK_PORT_VARIABLES, type LocalStack } from '../config/local-stack.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
export const DEFAULT_STATE_DIR = join(REPO_ROOT, '.granary', 'stack');

export type ServiceName = 'redis' | 'postgres' | 'minio' | 'temporal';
export const SERVICE_NAMES: readonly ServiceName[] = ['redis', 'postgres', 'minio', 'temporal'];

/** Where output goes: one line at a time. */
export type Log = (line: string) => void;
const toStdout: Log = (line) => process.stdout.write(`${line}\n`);

/** A failure with a message meant for a person: the CLI prints it without a stack trace. */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

/** One copy of a service: the addresses it answers on and the folder holding its files. */
export interface Instance {
  readonly service: ServiceName;
  readonly stack: LocalStack;
  readonly dir: string;
}

// ---------------------------------------------------------------------------------------------
// The four services, each described once.

interface ServiceDef {
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

const SERVICES: Record<ServiceName, ServiceDef> = {
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

/** The two servers built from source with `go install`, pinned. */
interface GoTool {
  readonly binary: string;
  readonly envVar: string;
  readonly packagePath: string;
  readonly version: string;
  /** The Go release the module needs, and the toolchain Go >= 1.21 fetches by itself when older. */
  readonly minGo: readonly [number, number];
  readonly toolchain: string;
}

export const GO_TOOLS = {
  minio: {
    binary: 'minio',
    envVar: 'GRANARY_MINIO_BIN',
    packagePath: 'github.com/minio/minio',
    version: 'v0.0.0-20260212201848-7aac2a2c5b7c',
    minGo: [1, 24],
    toolchain: 'go1.24.0',
  },
  temporal: {
    binary: 'temporal',
    envVar: 'GRANARY_TEMPORAL_BIN',
    packagePath: 'github.com/temporalio/cli/cmd/temporal',
    version: 'v1.5.1',
    minGo: [1, 25],
    toolchain: 'go1.25.0',
  },
} as const satisfies Record<string, GoTool>;

// ---------------------------------------------------------------------------------------------
// One instance's life: start (or reuse), stop, kill, status. The same for every service.

export const logFile = (i: Instance): string => join(i.dir, `${i.service}.log`);
const pidFile = (i: Instance): string => join(i.dir, 'pid');
export const portOf = (i: Instance): number => SERVICES[i.service].port(i.stack);
export const addressOf = (i: Instance): string => `${i.stack.host}:${portOf(i)}`;

export interface UpResult {
  readonly service: ServiceName;
  readonly address: string;
  /** `started` by this call, or `reused`: something already answered on the port. */
  readonly action: 'started' | 'reused';
  /** Our pid for it (from the pid file), or null for a server started by someone else. */
  readonly pid: number | null;
  readonly ms: number;
}

/**
 * Makes the instance answer: reuses whatever answers on its port, else installs, starts and
 * waits for it, then prepares it (database, bucket). Serialized per instance by a lock file, so
 * two processes running `up` at once start one server.
 */
export async function ensureRunning(i: Instance, log: Log = toStdout): Promise<UpResult> {
  const def = SERVICES[i.service];
  const t0 = performance.now();
  ensureDir(i.dir);
  return withLockFile(join(i.dir, 'up.lock'), async () => {
    const ours = ourPid(i);
    let action: UpResult['action'] = 'reused';
    let pid = ours;
    if (ours !== null) {
      await waitUntilAnswers(i, ours, `${def.title} (pid ${ours}) does not answer on ${addressOf(i)}`);
    } else if (await tcpAnswers(i.stack.host, portOf(i))) {
      const move = `stop it, or move ${def.title} to another port with ${STACK_PORT_VARIABLES[i.service]}`;
      await waitUntilAnswers(i, null, `something answers on ${addressOf(i)} but it is not a working ${def.title}: ${move}`, false);
    } else {
      action = 'started';
      await def.install(log, i);
      pid = await def.launch(i);
      if (pid !== null) writeFileSync(pidFile(i), `${pid}\n`);
      try {
        await waitUntilAnswers(i, pid, `${def.title} did not answer on ${addressOf(i)}`);
      } catch (error) {
        if (pid !== null) await signalAndWait(pid, 'SIGKILL', 5000);
        rmSync(pidFile(i), { force: true });
        throw error;
      }
      pid ??= await pidOnceWritten(def, i);
      if (pid !== null) writeFileSync(pidFile(i), `${pid}\n`);
    }
    await def.prepare?.(i);
    return { service: i.service, address: addressOf(i), action, pid, ms: Math.round(performance.now() - t0) };
  }, (holder) => log(`  ${i.service}: waiting for another 'stack up' (pid ${holder}) starting it`));
}

/** Stops the instance if we started it (its pid file), gracefully, then SIGKILL after 30 s. */
export async function stopInstance(i: Instance): Promise<'stopped' | 'not running' | 'not ours'> {
  const pid = ourPid(i);
  if (pid === null) return (await tcpAnswers(i.stack.host, portOf(i))) ? 'not ours' : 'not running';
  if (!(await signalAndWait(pid, SERVICES[i.service].stopSignal, 30_000))) await signalAndWait(pid, 'SIGKILL', 5000, true);
  rmSync(pidFile(i), { force: true });
  return 'stopped';
}

/** Kills the instance at once (SIGKILL to its process group), as a crash would. */
export async function killInstance(i: Instance): Promise<void> {
  const pid = ourPid(i) ?? liveDaemonPid(i);
  if (pid === null) return;
  // A killed process holds its listening socket until the kernel has torn it down (slow on a
  // loaded machine): wait for the process and the port, so a restart finds the port free.
  const exited = await signalAndWait(pid, 'SIGKILL', 60_000, true);
  for (const deadline = Date.now() + 30_000; exited && (await tcpAnswers(i.stack.host, portOf(i))) && Date.now() < deadline; ) await sleep(100);
  rmSync(pidFile(i), { force: true });
}

export interface ServiceStatus {
  readonly service: ServiceName;
  readonly address: string;
  readonly running: boolean;
  readonly pid: number | null;
  /** `granary` when our pid file names a live server, `external` when something else answers. */
  readonly startedBy: 'granary' | 'external' | null;
  readonly log: string;
}

export async function instanceStatus(i: Instance): Promise<ServiceStatus> {
  const pid = ourPid(i);
  const running = (await tcpAnswers(i.stack.host, portOf(i))) && (await SERVICES[i.service].answers(i));
  const startedBy = pid !== null ? 'granary' : running ? 'external' : null;
  return { service: i.service, address: addressOf(i), running, pid, startedBy, log: logFile(i) };
}

/**
 * A daemonized server's pid from its own pid file: it may write the file a moment after it
 * answers, so wait for it (up to 5 s) rather than lose track of the process.
 */
async function pidOnceWritten(def: ServiceDef, i: Instance): Promise<number | null> {
  if (!def.pidAfterStart) return null;
  for (const deadline = Date.now() + 5000; ; await sleep(50)) {
    const pid = def.pidAfterStart(i);
    if (pid !== null || Date.now() > deadline) return pid;
  }
}

/** The live server named by a daemonized server's own pid file, when ours lost track of it. */
function liveDaemonPid(i: Instance): number | null {
  const pid = SERVICES[i.service].pidAfterStart?.(i) ?? null;
  return pid !== null && isAlive(pid) && commandLine(pid).includes(SERVICES[i.service].processName) ? pid : null;
}

/** The live pid from the instance's pid file, or null (a stale file is removed). */
function ourPid(i: Instance): number | null {
  const pid = readPid(pidFile(i));
  if (pid === null) return null;
  if (isAlive(pid) && commandLine(pid).includes(SERVICES[i.service].processName)) return pid;
  rmSync(pidFile(i), { force: true });
  return null;
}

async function waitUntilAnswers(i: Instance, pid: number | null, failure: string, showLog = true): Promise<void> {
  const def = SERVICES[i.service];
  const deadline = Date.now() + def.startTimeoutMs;
  for (;;) {
    if (await def.answers(i)) return;
    const died = pid !== null && !isAlive(pid);
    if (died || Date.now() > deadline) {
      const probe = died || !def.probe ? '' : `; ${await def.probe(i)}`;
      const why = died ? `the process (pid ${pid}) exited` : `no answer within ${def.startTimeoutMs / 1000} s${probe}`;
      const log = showLog ? `\nIts log, ${logFile(i)}, ends with:\n${tail(logFile(i))}` : '';
      throw new StackError(`${failure} (${why}).${log}`);
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// The shared stack: the four services at localStack()'s ports, under .granary/stack/.

export interface StackOptions {
  /** Where GRANARY_STACK_*_PORT are read from; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** The folder holding one subfolder per service; defaults to $GRANARY_STACK_DIR, else `<repo>/.granary/stack`. */
  readonly stateDir?: string;
  readonly services?: readonly ServiceName[];
  readonly log?: Log;
}

export function stackStateDir(options: StackOptions = {}): string {
  return resolve(options.stateDir ?? ((options.env ?? process.env).GRANARY_STACK_DIR || DEFAULT_STATE_DIR));
}

export function stackInstances(options: StackOptions = {}): Instance[] {
  const stack = localStack(options.env ?? process.env);
  const stateDir = stackStateDir(options);
  return (options.services ?? SERVICE_NAMES).map((service) => ({ service, stack, dir: join(stateDir, service) }));
}

/** Starts (or reuses) the four services in parallel; throws a StackError naming every failure. */
export async function stackUp(options: StackOptions = {}): Promise<UpResult[]> {
  const log = options.log ?? toStdout;
  const instances = stackInstances(options);
  const settled = await Promise.allSettled(
    instances.map(async (i) => {
      try {
        const result = await ensureRunning(i, log);
        const how = result.action === 'started'
          ? `started in ${(result.ms / 1000).toFixed(1)} s (pid ${result.pid})`
          : `reusing (${result.pid !== null ? `started by granary, pid ${result.pid}` : 'external'})`;
        log(`  ${i.service.padEnd(9)} ${addressOf(i).padEnd(16)} ${how}`);
        return result;
      } catch (error) {
        log(`  ${i.service.padEnd(9)} ${addressOf(i).padEnd(16)} FAILED`);
        throw error;
      }
    }),
  );
  const failures = settled.flatMap((s, n) => (s.status === 'rejected' ? [`${instances[n]?.service}: ${messageOf(s.reason)}`] : []));
  if (failures.length > 0) throw new StackError(`the local stack is not up:\n${failures.join('\n\n')}`);
  return settled.map((s) => (s as PromiseFulfilledResult<UpResult>).value);
}

/** Stops what `up` started (pid files), in parallel; leaves servers started by others alone. */
export async function stackDown(options: StackOptions = {}): Promise<Array<{ service: ServiceName; outcome: string }>> {
  const log = options.log ?? toStdout;
  return Promise.all(
    stackInstances(options).map(async (i) => {
      const outcome = await stopInstance(i);
      const said = outcome === 'not ours' ? 'left running (not started by granary)' : outcome;
      log(`  ${i.service.padEnd(9)} ${addressOf(i).padEnd(16)} ${said}`);
      return { service: i.service, outcome };
    }),
  );
}

export function stackStatus(options: StackOptions = {}): Promise<ServiceStatus[]> {
  return Promise.all(stackInstances(options).map(instanceStatus));
}

/** The variables of CONFIG_VARIABLES that `env` sets. */
export const STACK_ENV_VARIABLES = [
  'GRANARY_REDIS_URL',
  'GRANARY_POSTGRES_URL',
  'GRANARY_OFFLINE_URL',
  'GRANARY_S3_ENDPOINT',
  'GRANARY_S3_ACCESS_KEY_ID',
  'GRANARY_S3_SECRET_ACCESS_KEY',
  'GRANARY_TEMPORAL_ADDRESS',
  'GRANARY_TEMPORAL_NAMESPACE',
] as const satisfies ReadonlyArray<keyof typeof CONFIG_VARIABLES>;
export type StackEnv = Readonly<Record<(typeof STACK_ENV_VARIABLES)[number], string>>;

/** The GRANARY_* variables that point Granary at the local stack. */
export function stackEnv(env: NodeJS.ProcessEnv = process.env): StackEnv {
  const stack = localStack(env);
  return {
    GRANARY_REDIS_URL: stack.redis.url,
    GRANARY_POSTGRES_URL: stack.postgres.url,
    GRANARY_OFFLINE_URL: stack.minio.offlineUrl,
    GRANARY_S3_ENDPOINT: stack.minio.endpoint,
    GRANARY_S3_ACCESS_KEY_ID: stack.minio.accessKeyId,
    GRANARY_S3_SECRET_ACCESS_KEY: stack.minio.secretAccessKey,
    GRANARY_TEMPORAL_ADDRESS: stack.temporal.address,
    GRANARY_TEMPORAL_NAMESPACE: stack.temporal.namespace,
  };
}

/** `export NAME=value` lines for a shell (`eval "$(npm run -s stack -- env)"`). */
export function stackEnvLines(env: NodeJS.ProcessEnv = process.env): string[] {
  const quote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  return Object.entries(stackEnv(env)).map(([name, value]) => `export ${name}=${quote(value)}`);
}

// ---------------------------------------------------------------------------------------------
// Installing: apt-get for Redis and PostgreSQL, go install for MinIO and Temporal.

let aptQueue: Promise<unknown> = Promise.resolve();
let aptUpdated = false;

/** `apt-get install -y` (after one `apt-get update`), one at a time: dpkg allows no more. */
function aptInstall(packages: readonly string[], log: Log, i: Instance): Promise<void> {
  const run = aptQueue.then(async () => {
    const command = `apt-get install -y ${packages.join(' ')}`;
    if (process.getuid?.() !== 0) throw new StackError(`${packages.join(', ')} is not installed; run as root, or: sudo ${command}`);
    if (locateOnPath('apt-get') === null) throw new StackError(`${packages.join(', ')} is not installed and there is no apt-get here: install it with your package manager`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    if (!aptUpdated) {
      log(`  ${i.service}: apt-get update`);
      await runLogged(i, 'apt-get', [...lock, 'update'], { env, file: join(i.dir, 'install.log') });
      aptUpdated = true;
    }
    log(`  ${i.service}: ${command}`);
    await runLogged(i, 'apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...packages], { env, file: join(i.dir, 'install.log') });
  });
  aptQueue = run.catch(() => undefined);
  return run;
}

async function ensureAptBinary(binary: string, packages: readonly string[], log: Log, i: Instance): Promise<void> {
  if (locateOnPath(binary) !== null) return;
  await aptInstall(packages, log, i);
  if (locateOnPath(binary) === null) throw new StackError(`${packages.join(', ')} was installed but ${binary} is not on PATH`);
}

function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? null : join(root, newest, 'bin');
}

const goInstalls = new Map<string, Promise<string>>();

/** The tool's binary, from $envVar, PATH or Go's bin folder; else built with `go install`. */
export function ensureGoTool(tool: GoTool, log: Log, i: Instance): Promise<string> {
  const found = locateGoTool(tool);
  if (found !== null) return Promise.resolve(found);
  let install = goInstalls.get(tool.binary);
  if (install === undefined) {
    install = goInstall(tool, log, i).finally(() => goInstalls.delete(tool.binary));
    goInstalls.set(tool.binary, install);
  }
  return install;
}

export function locateGoTool(tool: GoTool): string | null {
  const fromEnv = process.env[tool.envVar];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutable(fromEnv)) throw new StackError(`${tool.envVar}=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const onPath = locateOnPath(tool.binary);
  if (onPath !== null) return onPath;
  const bin = goBinDir();
  return bin !== null && isExecutable(join(bin, tool.binary)) ? join(bin, tool.binary) : null;
}

function requireGoTool(tool: GoTool): string {
  const found = locateGoTool(tool);
  if (found === null) throw new StackError(`${tool.binary} is not installed`);
  return found;
}

async function goInstall(tool: GoTool, log: Log, i: Instance): Promise<string> {
  const target = `${tool.packagePath}@${tool.version}`;
  const other = runningGoInstall(tool);
  if (other !== null) {
    log(`  ${i.service}: waiting for the 'go install ${target}' already running (pid ${other})`);
    await waitForPidExit(other, 60 * 60_000, (s) => log(`  ${i.service}: still waiting for pid ${other} (${s})`));
    const built = locateGoTool(tool);
    if (built !== null) return built;
  }
  const go = goVersion();
  const needs = `${tool.minGo.join('.')}`;
  if (go === null) {
    throw new StackError(
      `${tool.binary} is not installed and building it needs Go (>= ${needs}, or >= 1.21, which fetches ${tool.toolchain} itself), but 'go' is not on PATH.\n` +
        `Install Go from https://go.dev/dl (Debian 12's golang-go is 1.19, too old), or point ${tool.envVar} at a ${tool.binary} binary.`,
    );
  }
  const env: Record<string, string> = {};
  if (compareVersion(go, tool.minGo) < 0) {
    if (compareVersion(go, [1, 21]) < 0) {
      throw new StackError(`building ${tool.binary} needs Go >= ${needs} (or >= 1.21, which fetches ${tool.toolchain} itself); this go is ${go.join('.')}. Install a newer Go from https://go.dev/dl`);
    }
    env.GOTOOLCHAIN = tool.toolchain;
  }
  const file = join(i.dir, 'install.log');
  log(`  ${i.service}: building ${tool.binary}: go install ${target}${env.GOTOOLCHAIN ? ` (GOTOOLCHAIN=${env.GOTOOLCHAIN})` : ''}; this takes minutes`);
  await runLogged(i, 'go', ['install', target], { env, file, onLine: (line) => log(`  ${i.service}: ${line}`), progress: (s) => log(`  ${i.service}: still building (${s})`) });
  goBin = undefined;
  const built = locateGoTool(tool);
  if (built === null) throw new StackError(`go install ${target} succeeded but no ${tool.binary} was found in ${goBinDir()}`);
  log(`  ${i.service}: built ${built}`);
  return built;
}

/** A `go install` of the tool run by another process (a setup script, another `up`). */
function runningGoInstall(tool: GoTool): number | null {
  for (const entry of safeReaddir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const args = commandLine(pid).split('\0');
    if (args.includes('install') && args.some((a) => a.startsWith(`${tool.packagePath}@`))) return pid;
  }
  return null;
}

let goBin: string | null | undefined;
function goBinDir(): string | null {
  if (goBin !== undefined) return goBin;
  const result = spawnSync('go', ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8' });
  const [gobin = '', gopath = ''] = result.status === 0 ? result.stdout.split('\n') : [];
  goBin = gobin !== '' ? gobin : gopath !== '' ? join(gopath.split(delimiter)[0] as string, 'bin') : null;
  return goBin;
}

function goVersion(): number[] | null {
  const result = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  const match = result.status === 0 ? /go(\d+)\.(\d+)/.exec(result.stdout) : null;
  return match ? [Number(match[1]), Number(match[2])] : null;
}

const compareVersion = (a: readonly number[], b: readonly number[]): number => (a[0]! - b[0]!) || (a[1]! - b[1]!);

// ---------------------------------------------------------------------------------------------
// PostgreSQL's server refuses to run as root: as root it runs as the `postgres` user.

/** Runs PostgreSQL's programs for the instance: as root, as the `postgres` user on a folder it owns. */
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

type PgClient = import('pg').Client;
async function withPostgres<T>(i: Instance, database: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ host: i.stack.host, port: i.stack.postgres.port, user: 'postgres', database, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(i: Instance): Promise<void> {
  const name = i.stack.postgres.database;
  await withPostgres(i, 'postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile
      });
    }
  }).catch((error: unknown) => {
    if (error instanceof StackError) throw error;
    throw new StackError(`cannot create database '${name}' on ${i.stack.postgres.url}: ${messageOf(error)}`);
  });
}

// ---------------------------------------------------------------------------------------------
// MinIO's bucket and Temporal's health.

async function ensureBucket(stack: LocalStack): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 is this project's floor, on purpose
  const { S3Client, HeadBucketCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const { endpoint, accessKeyId, secretAccessKey, bucket } = stack.minio;
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) {
          await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((e: { name?: string }) => {
            if (e.name !== 'BucketAlreadyOwnedByYou') throw e;
          });
          return;
        }
        if (Date.now() > deadline) {
          throw new StackError(`cannot reach bucket '${bucket}' at ${endpoint} with the local-stack credentials: ${messageOf(error)}${status ? ` (HTTP ${status})` : ''}`);
        }
        await sleep(500); // MinIO answers /health/live a moment before it serves requests
      }
    }
  } finally {
    s3.destroy();
  }
}

/**
 * Temporal answers when its frontend serves DescribeNamespace for the stack's namespace: one
 * raw gRPC call over node:http2 (the SDK's client takes half a second just to import).
 */
async function temporalAnswers(stack: LocalStack): Promise<boolean> {
  if (!(await tcpAnswers(stack.host, stack.temporal.port))) return false;
  const name = Buffer.from(stack.temporal.namespace);
  const request = Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]); // field 1: namespace
  const status = await grpcStatus(stack.temporal.address, '/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace', request).catch(() => null);
  return status === '0';
}

/** The grpc-status of one unary call (`'0'` is OK). */
function grpcStatus(address: string, path: string, message: Buffer, timeoutMs = 3000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    const fail = (error: Error): void => {
      session.destroy();
      reject(error);
    };
    session.once('error', fail);
    session.setTimeout(timeoutMs, () => fail(new Error(`no gRPC answer from ${address}`)));
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(message.length, 1);
    const call = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | null = null;
    call.once('response', (headers) => (status = (headers['grpc-status'] as string | undefined) ?? status)); // trailers-only reply
    call.once('trailers', (trailers) => (status = (trailers['grpc-status'] as string | undefined) ?? status));
    call.on('data', () => {});
    call.once('error', fail);
    call.once('close', () => {
      session.close();
      resolve(status);
    });
    call.end(Buffer.concat([frame, message]));
  });
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  for (; value > 0x7f; value >>>= 7) bytes.push((value & 0x7f) | 0x80);
  bytes.push(value);
  return Buffer.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// Processes, sockets, files.

interface RunOptions {
  readonly env?: Record<string, string>;
  /** The file the output is appended to; the instance's log by default. */
  readonly file?: string;
  readonly onLine?: (line: string) => void;
  readonly progress?: (elapsed: string) => void;
}

/** Runs a command to completion, its output appended to a log file; a failure shows the log's end. */
async function runLogged(i: Instance, command: string, args: readonly string[], options: RunOptions = {}): Promise<void> {
  const file = options.file ?? logFile(i);
  const out = openSync(file, 'a');
  const streamed = options.onLine !== undefined;
  const started = Date.now();
  const ticker = options.progress && setInterval(() => options.progress?.(elapsed(started)), 30_000);
  try {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', streamed ? 'pipe' : out, streamed ? 'pipe' : out] });
    if (streamed) {
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream! }).on('line', (line) => {
          writeFileSync(out, `${line}\n`);
          options.onLine?.(line);
        });
      }
    }
    const code = await exitCode(child);
    if (code !== 0) {
      throw new StackError(`'${[command, ...args].join(' ')}' failed (${code === null ? 'not found' : `exit ${code}`}); ${file} ends with:\n${tail(file)}`);
    }
  } finally {
    if (ticker) clearInterval(ticker);
    closeSync(out);
  }
}

/** Starts a server in its own session with output to its log, and lets it outlive us. */
function spawnDetached(i: Instance, command: string, args: readonly string[], env: Record<string, string> = {}): number {
  const out = openSync(logFile(i), 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...env } });
    child.on('error', () => {}); // a missing binary: pid is undefined, reported below
    if (child.pid === undefined) throw new StackError(`cannot start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : null)));
  });
}

/** Sends the signal (to the process group too, when asked) and waits up to `ms` for the exit. */
async function signalAndWait(pid: number, signal: NodeJS.Signals, ms: number, group = false): Promise<boolean> {
  try {
    if (group) process.kill(-pid, signal);
    else process.kill(pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      return !isAlive(pid);
    }
  }
  return waitForPidExit(pid, ms);
}

async function waitForPidExit(pid: number, ms: number, progress?: (elapsed: string) => void): Promise<boolean> {
  const started = Date.now();
  let told = started;
  while (isAlive(pid)) {
    if (Date.now() - started > ms) return false;
    if (progress && Date.now() - told >= 30_000) {
      told = Date.now();
      progress(elapsed(started));
    }
    await sleep(Date.now() - started < 2000 ? 50 : 500);
  }
  return true;
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

export function tcpAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** One Redis command over a bare socket; returns the first line of the reply (`+PONG`). */
export function redisCommand(host: string, port: number, words: readonly string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from Redis at ${host}:${port}`)));
    socket.once('connect', () => socket.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection to ${host}:${port} closed without a reply`)));
  });
}

/** Runs `fn` holding an exclusive lock file (`{pid}` inside); a lock left by a dead process is taken over. */
async function withLockFile<T>(path: string, fn: () => Promise<T>, onWait: (holder: number | null) => void, timeoutMs = 90 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let waited = false; ; ) {
    try {
      closeSync(openSync(path, 'wx'));
      writeFileSync(path, `${process.pid}\n`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readPid(path);
      if (holder !== null && holder !== process.pid && !isAlive(holder)) rmSync(path, { force: true });
      else if (Date.now() > deadline) throw new StackError(`${path} is held by pid ${holder}; is another 'stack up' stuck?`);
      else {
        if (!waited) onWait(holder);
        waited = true;
        await sleep(200);
      }
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function locateOnPath(binary: string): string | null {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder !== '' && isExecutable(join(folder, binary))) return join(folder, binary);
  }
  return null;
}

function requireOnPath(binary: string): string {
  const found = locateOnPath(binary);
  if (found === null) throw new StackError(`${binary} is not on PATH`);
  return found;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function tail(file: string, lines = 15): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text === '' ? '    (empty)' : text.split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

const elapsed = (since: number): string => {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// ---------------------------------------------------------------------------------------------
// The command line.

const USAGE = `usage: npm run stack -- <command>   (ports: GRANARY_STACK_*_PORT; folder: GRANARY_STACK_DIR)
  up               install what is missing, start the four services, wait until each answers
  down             stop the services that 'up' started
  status [--json]  each service: address, running or not, pid, started by granary or external
  env              export lines for a shell: eval "$(npm run -s stack -- env)"`;

async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || rest.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const where = relative(process.cwd(), stackStateDir()) || stackStateDir();
  switch (command) {
    case 'up': {
      const t0 = performance.now();
      toStdout(`granary stack (${where})`);
      await stackUp();
      toStdout(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s; point Granary at it with: eval "$(npm run -s stack -- env)"`);
      return 0;
    }
    case 'down':
      toStdout(`granary stack (${where})`);
      await stackDown();
      return 0;
    case 'status': {
      const statuses = await stackStatus();
      if (values.json) toStdout(JSON.stringify(statuses, null, 2));
      else {
        for (const s of statuses) {
          const who = s.startedBy === 'granary' ? `pid ${s.pid}, started by granary` : s.startedBy === 'external' ? 'external' : '';
          toStdout(`  ${s.service.padEnd(9)} ${s.address.padEnd(16)} ${(s.running ? 'running' : s.pid !== null ? 'not answering' : 'not running').padEnd(8)} ${who}`.trimEnd());
        }
      }
      return 0;
    }
    case 'env':
      toStdout(stackEnvLines().join('\n'));
      return 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`stack: ${messageOf(error)}\n`);
      if (!(error instanceof StackError) && process.env.GRANARY_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
      process.exit(1);
    },
  );
}
