import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localStack } from '../../config/local-stack.ts';
import { SERVICE_NAMES, toStdout, type Instance, type Log, type ServiceName } from './instance.ts';
import { ensureRunning, instanceStatus, stopInstance, type ServiceStatus, type UpResult } from './lifecycle.ts';
import { addressOf } from './services.ts';
import { messageOf, StackError } from './stack-error.ts';

/** The checkout's root folder. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
/** Where the shared stack keeps its services' data, logs and pid files, unless GRANARY_STACK_DIR says otherwise. */
export const DEFAULT_STATE_DIR = join(REPO_ROOT, '.granary', 'stack');

/** Which stack: its ports, its folder, some of its services; and where progress goes. */
export interface StackOptions {
  /** Where GRANARY_STACK_*_PORT are read from; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** The folder holding one subfolder per service; defaults to $GRANARY_STACK_DIR, else `<repo>/.granary/stack`. */
  readonly stateDir?: string;
  readonly services?: readonly ServiceName[];
  readonly log?: Log;
}

/** The folder holding one subfolder per service. */
export function stackStateDir(options: StackOptions = {}): string {
  return resolve(options.stateDir ?? ((options.env ?? process.env).GRANARY_STACK_DIR || DEFAULT_STATE_DIR));
}

/** The stack's services as instances: localStack()'s addresses, a folder each. */
export function stackInstances(options: StackOptions = {}): Instance[] {
  const stack = localStack(options.env ?? process.env);
  const stateDir = stackStateDir(options);
  return (options.services ?? SERVICE_NAMES).map((service) => ({ service, stack, dir: join(stateDir, service) }));
}

/**
 * The local stack without Docker: Redis, PostgreSQL, MinIO and a Temporal dev server on
 * 127.0.0.1, at the ports of `localStack()`. `stackUp` starts (or reuses) the four in parallel,
 * installing a missing server first, and throws a StackError naming every failure; each runs in
 * the background with its data, log and pid file under `.granary/stack/<service>/`. Whatever
 * already answers on a service's port is reused, so `up` is idempotent; `stackDown` stops only
 * what `up` started.
 *
 * @example
 *   await stackUp();   // => [{ service: 'redis', action: 'started', pid: 4242, ... }, ...]
 *   await stackStatus() // => [{ service: 'redis', address: '127.0.0.1:16379', running: true, startedBy: 'granary', ... }, ...]
 *   await stackDown();
 */
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

/** Each service: its address, whether it answers, our pid for it, who started it. */
export function stackStatus(options: StackOptions = {}): Promise<ServiceStatus[]> {
  return Promise.all(stackInstances(options).map(instanceStatus));
}
