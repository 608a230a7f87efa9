/**
 * Installing the servers the stack runs, when missing: Redis and PostgreSQL with apt-get (as
 * root; one install at a time, as dpkg allows), MinIO and the Temporal CLI built from source with
 * `go install` at the pinned versions of GO_TOOLS (found first in $GRANARY_*_BIN, PATH or Go's bin
 * folder; a `go install` already running elsewhere is waited for, not repeated).
 *
 * @example
 *   await ensureGoTool(GO_TOOLS.temporal, log, i) // => '/root/go/bin/temporal' (built the first time: minutes)
 *   postgresBinDir()                              // => '/usr/lib/postgresql/15/bin'
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Instance, Log } from './instance.ts';
import { commandLine, isExecutable, locateOnPath, runLogged, safeReaddir, waitForPidExit } from './process-control.ts';
import { StackError } from './stack-error.ts';

/** The two servers built from source with `go install`, pinned. */
export interface GoTool {
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

let aptQueue: Promise<unknown> = Promise.resolve();
let aptUpdated = false;

/** `apt-get install -y` (after one `apt-get update`), one at a time: dpkg allows no more. */
export function aptInstall(packages: readonly string[], log: Log, i: Instance): Promise<void> {
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

/** Installs the packages unless the binary is on PATH already. */
export async function ensureAptBinary(binary: string, packages: readonly string[], log: Log, i: Instance): Promise<void> {
  if (locateOnPath(binary) !== null) return;
  await aptInstall(packages, log, i);
  if (locateOnPath(binary) === null) throw new StackError(`${packages.join(', ')} was installed but ${binary} is not on PATH`);
}

/** The newest installed PostgreSQL's bin folder (`/usr/lib/postgresql/<major>/bin`), or null. */
export function postgresBinDir(): string | null {
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

/** Where the tool's binary is ($envVar, PATH, Go's bin folder), or null. */
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

export function requireGoTool(tool: GoTool): string {
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
