import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_PORT_VARIABLES } from '../../config/local-stack.ts';
import { logFile, toStdout, type Instance, type Log, type ServiceName } from './instance.ts';
import { commandLine, ensureDir, isAlive, readPid, signalAndWait, sleep, tail, withLockFile } from './process-control.ts';
import { tcpAnswers } from './service-readiness.ts';
import { addressOf, portOf, SERVICES, type ServiceDef } from './services.ts';
import { StackError } from './stack-error.ts';

/** Our record of a server we started: its pid, in the instance's folder. */
const pidFile = (i: Instance): string => join(i.dir, 'pid');

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
 * One instance's life, the same for every service: `ensureRunning` makes it answer (reusing
 * whatever answers on its port, else installing, starting and waiting for it, then preparing it:
 * database, bucket), serialized per instance by a lock file so two processes running `up` at once
 * start one server; `stopInstance` stops it only if we started it (its pid file); `killInstance`
 * kills it as a crash would; `instanceStatus` says who runs it.
 *
 * @example
 *   await ensureRunning({ service: 'redis', stack: localStack(), dir: '.granary/stack/redis' })
 *   // => { service: 'redis', address: '127.0.0.1:16379', action: 'started', pid: 4242, ms: 180 }
 *   await stopInstance(i) // => 'stopped' ('not ours' when someone else started it)
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

/** Whether the instance answers, and whether we started it (our pid file) or someone else did. */
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

/** Waits until the service answers; fails (with its log's end) when its process dies or the start times out. */
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
