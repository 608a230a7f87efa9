/**
 * Process control for the stack's servers: commands run to completion with their output in a log,
 * servers started detached in their own session, signals and waits for an exit, pid files, the
 * lock file that serializes two `up`s, and finding programs on PATH.
 *
 * @example
 *   const pid = spawnDetached(i, '/root/go/bin/minio', ['server', data]); // outlives this process
 *   await signalAndWait(pid, 'SIGTERM', 30_000) // => true once it exited
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { logFile, type Instance } from './instance.ts';
import { StackError } from './stack-error.ts';

export interface RunOptions {
  readonly env?: Record<string, string>;
  /** The file the output is appended to; the instance's log by default. */
  readonly file?: string;
  readonly onLine?: (line: string) => void;
  readonly progress?: (elapsed: string) => void;
}

/** Runs a command to completion, its output appended to a log file; a failure shows the log's end. */
export async function runLogged(i: Instance, command: string, args: readonly string[], options: RunOptions = {}): Promise<void> {
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
export function spawnDetached(i: Instance, command: string, args: readonly string[], env: Record<string, string> = {}): number {
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
export async function signalAndWait(pid: number, signal: NodeJS.Signals, ms: number, group = false): Promise<boolean> {
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

/** Waits up to `ms` for the process to exit (true when it did), telling `progress` every 30 s. */
export async function waitForPidExit(pid: number, ms: number, progress?: (elapsed: string) => void): Promise<boolean> {
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

/** Polls `ok` every 200 ms until it is true; throws `failure()` after `ms`. */
export async function waitUntil(ok: () => Promise<boolean>, ms: number, failure: () => Promise<Error>): Promise<void> {
  for (const deadline = Date.now() + ms; !(await ok()); await sleep(200)) {
    if (Date.now() > deadline) throw await failure();
  }
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

/** The process's command line, its words NUL-separated ('' when unknown). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Runs `fn` holding an exclusive lock file (`{pid}` inside); a lock left by a dead process is taken over. */
export async function withLockFile<T>(path: string, fn: () => Promise<T>, onWait: (holder: number | null) => void, timeoutMs = 90 * 60_000): Promise<T> {
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

/** The pid on the first line of a pid file, or null. */
export function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function locateOnPath(binary: string): string | null {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder !== '' && isExecutable(join(folder, binary))) return join(folder, binary);
  }
  return null;
}

export function requireOnPath(binary: string): string {
  const found = locateOnPath(binary);
  if (found === null) throw new StackError(`${binary} is not on PATH`);
  return found;
}

export function isExecutable(file: string): boolean {
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

export function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A log's last lines, indented, for an error message. */
export function tail(file: string, lines = 15): string {
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
