/**
 * Temporal's Java test server (`io.temporal:temporal-test-server`), the server behind the
 * time-skipping workflow tests (test/support/time-skipping.ts): `@temporalio/testing` would
 * download one at run time, this installs it once per machine instead, like the stack's tools.
 * Maven resolves the artifact and its dependencies into
 * `~/.cache/granary/temporal-test-server/<version>/lib/` (`$GRANARY_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/granary`), next to a wrapper script that runs it; every clone on the machine
 * shares it, as they share `~/go/bin`. A missing Java or Maven is installed with apt-get.
 *
 * Safe to run twice at once: installs take a lock file, build in a temporary folder and rename it
 * into place, so a folder at the version's path is always complete. `GRANARY_TEMPORAL_TEST_SERVER`
 * names an executable to use instead.
 *
 * @example
 *   node --import tsx scripts/temporal-test-server.ts
 *   // => /root/.cache/granary/temporal-test-server/1.31.0/temporal-test-server   (installed if missing)
 *
 *   const wrapper = await ensureTemporalTestServer();
 *   await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: wrapper } } });
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const TEMPORAL_TEST_SERVER_VERSION = '1.31.0';
const ARTIFACT = { groupId: 'io.temporal', artifactId: 'temporal-test-server' };
/** Pinned, so Maven does not look up the plugin's latest version on every install. */
const COPY_DEPENDENCIES = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies';
const WRAPPER = 'temporal-test-server';
/** Debian packages that bring `java` and `mvn`. */
const APT_PACKAGES = ['default-jdk-headless', 'maven'];

export type Log = (line: string) => void;
const toStderr: Log = (line) => process.stderr.write(`${line}\n`);

/** The folder installs go to: shared by every clone of the repo on this machine. */
export function temporalTestServerDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.GRANARY_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'granary');
  return join(cache, 'temporal-test-server', TEMPORAL_TEST_SERVER_VERSION);
}

let installing: Promise<string> | undefined;

/**
 * The path of an executable that runs Temporal's test server (its arguments: the port), installed
 * first if missing: `$GRANARY_TEMPORAL_TEST_SERVER`, else the wrapper in temporalTestServerDir().
 */
export function ensureTemporalTestServer(log: Log = toStderr): Promise<string> {
  const fromEnv = process.env.GRANARY_TEMPORAL_TEST_SERVER;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) return Promise.reject(new Error(`GRANARY_TEMPORAL_TEST_SERVER=${fromEnv} is not an executable file`));
    return Promise.resolve(fromEnv);
  }
  const dir = temporalTestServerDir();
  if (isExecutable(join(dir, WRAPPER))) return Promise.resolve(join(dir, WRAPPER));
  installing ??= install(dir, log).finally(() => (installing = undefined));
  return installing;
}

async function install(dir: string, log: Log): Promise<string> {
  const wrapper = join(dir, WRAPPER);
  mkdirSync(join(dir, '..'), { recursive: true });
  return withLockFile(`${dir}.lock`, log, async () => {
    if (isExecutable(wrapper)) return wrapper; // installed by the holder we waited for
    await ensureJavaAndMaven(log);
    const started = Date.now();
    const temp = `${dir}.tmp-${process.pid}`;
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(temp, { recursive: true });
    try {
      log(`installing Temporal's test server ${TEMPORAL_TEST_SERVER_VERSION} with Maven into ${dir} (once per machine; about a minute)`);
      writeFileSync(join(temp, 'pom.xml'), pom());
      await run('mvn', ['-B', '-q', '-f', join(temp, 'pom.xml'), COPY_DEPENDENCIES, `-DoutputDirectory=${join(temp, 'lib')}`, '-DincludeScope=runtime'], join(temp, 'install.log'));
      // The wrapper names the final folder: it is written before the rename that makes it visible.
      writeFileSync(
        join(temp, WRAPPER),
        `#!/bin/sh\n# Temporal's Java test server (${ARTIFACT.groupId}:${ARTIFACT.artifactId}:${TEMPORAL_TEST_SERVER_VERSION}), installed by Granary's scripts/temporal-test-server.ts.\n` +
          `exec java -cp "${join(dir, 'lib')}/*" io.temporal.testserver.TestServer "$@"\n`,
        { mode: 0o755 },
      );
      rmSync(dir, { recursive: true, force: true }); // a folder without its wrapper: a broken older install
      renameSync(temp, dir);
    } catch (error) {
      rmSync(temp, { recursive: true, force: true });
      throw error;
    }
    log(`installed Temporal's test server in ${Math.round((Date.now() - started) / 1000)} s: ${wrapper}`);
    return wrapper;
  });
}

/** A pom whose only dependency is the test server: `copy-dependencies` copies it and everything it needs. */
function pom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.granary</groupId>
  <artifactId>temporal-test-server-install</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${ARTIFACT.groupId}</groupId>
      <artifactId>${ARTIFACT.artifactId}</artifactId>
      <version>${TEMPORAL_TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/** `java` and `mvn` on PATH, else installed with apt-get as scripts/stack/installers.ts installs Redis and PostgreSQL. */
async function ensureJavaAndMaven(log: Log): Promise<void> {
  if (locateOnPath('java') !== null && locateOnPath('mvn') !== null) return;
  const command = `apt-get install -y ${APT_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`Java and Maven are needed to install Temporal's test server; run as root, or: sudo ${command}`);
  if (locateOnPath('apt-get') === null) throw new Error(`Java and Maven are needed to install Temporal's test server and there is no apt-get here: install them with your package manager`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const logFile = join(temporalTestServerDir(), '..', 'apt.log');
  log(`Java or Maven is missing: apt-get update; ${command}`);
  await run('apt-get', [...lock, 'update'], logFile, env);
  await run('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...APT_PACKAGES], logFile, env);
  for (const binary of ['java', 'mvn']) {
    if (locateOnPath(binary) === null) throw new Error(`${APT_PACKAGES.join(', ')} were installed but ${binary} is not on PATH`);
  }
}

/** Runs a command to completion, its output appended to `logFile`; a failure shows the log's end. */
async function run(command: string, args: readonly string[], logFile: string, env: Record<string, string> = {}): Promise<void> {
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) {
      const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).map((l) => `    ${l}`).join('\n');
      throw new Error(`'${[command, ...args].join(' ')}' failed (${code === null ? 'not found' : `exit ${code}`}); its output ends with:\n${tail}`);
    }
  } finally {
    closeSync(out);
  }
}

/** Runs `fn` holding an exclusive lock file (`{pid}` inside); a lock left by a dead process is taken over. */
async function withLockFile<T>(path: string, log: Log, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let waited = false; ; ) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readPid(path);
      if (holder !== null ? !isAlive(holder) : olderThan(path, 10_000)) rmSync(path, { force: true });
      else if (Date.now() > deadline) throw new Error(`${path} is held by pid ${holder}; is another install of Temporal's test server stuck?`);
      else {
        if (!waited) log(`waiting for the install of Temporal's test server by pid ${holder}`);
        waited = true;
        await new Promise((resolve) => setTimeout(resolve, 200));
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
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null; // just created, its pid not written yet: wait
  }
}

/** A lock without a pid is one being taken; still empty after a while, its taker died in between. */
function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function locateOnPath(binary: string): string | null {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder !== '' && isExecutable(join(folder, binary))) return join(folder, binary);
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensureTemporalTestServer().then(
    (path) => process.stdout.write(`${path}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
