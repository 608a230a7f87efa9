import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localStack, STACK_PORT_VARIABLES } from '../../config/local-stack.ts';
import { SERVICE_NAMES, toStdout, type Instance, type Log, type ServiceName } from './instance.ts';
import { ensureRunning, instanceStatus, stopInstance, type ServiceStatus, type UpResult } from './lifecycle.ts';
import {
  ensureRedisCluster,
  ensureRedisSentinel,
  redisTopologyAnswers,
  redisTopologyStatus,
  stopRedisTopology,
  type RedisClusterSpec,
  type RedisSentinelSpec,
  type TopologyName,
  type TopologyStatus,
  type TopologyUpResult,
} from './redis-topology.ts';
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
  /**
   * The optional Redis topologies `stackUpTopologies` starts; defaults to those switched on in the
   * environment (TOPOLOGY_SWITCHES: GRANARY_STACK_REDIS_CLUSTER=1, GRANARY_STACK_REDIS_SENTINEL=1).
   */
  readonly topologies?: readonly TopologyName[];
  readonly log?: Log;
}

export const TOPOLOGY_NAMES: readonly TopologyName[] = ['redis-cluster', 'redis-sentinel'];
/** The variables that switch a topology on for `up` (as `--redis-cluster`, `--redis-sentinel` do). */
export const TOPOLOGY_SWITCHES: Readonly<Record<TopologyName, string>> = {
  'redis-cluster': 'GRANARY_STACK_REDIS_CLUSTER',
  'redis-sentinel': 'GRANARY_STACK_REDIS_SENTINEL',
};

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

/** The topologies switched on in the environment (`GRANARY_STACK_REDIS_CLUSTER=1`, ...). */
export function switchedOnTopologies(env: NodeJS.ProcessEnv = process.env): TopologyName[] {
  return TOPOLOGY_NAMES.filter((name) => ['1', 'true', 'yes'].includes((env[TOPOLOGY_SWITCHES[name]] ?? '').toLowerCase()));
}

/**
 * The shared stack's Redis Cluster and Sentinel setup: at the ports of `localStack()`, their
 * nodes' folders under `<state dir>/redis-cluster/` and `<state dir>/redis-sentinel/`. A node
 * fails over after 5 s without an answer; a graceful stop saves each node's data, as the stack's
 * Redis does.
 */
export function stackTopologySpecs(options: StackOptions = {}): { 'redis-cluster': RedisClusterSpec; 'redis-sentinel': RedisSentinelSpec } {
  const stack = localStack(options.env ?? process.env);
  const stateDir = stackStateDir(options);
  return {
    'redis-cluster': {
      host: stack.host, dir: join(stateDir, 'redis-cluster'), persist: true, portVariable: STACK_PORT_VARIABLES.redisCluster,
      ports: stack.redisCluster.ports, nodeTimeoutMs: 5000,
    },
    'redis-sentinel': {
      host: stack.host, dir: join(stateDir, 'redis-sentinel'), persist: true, portVariable: STACK_PORT_VARIABLES.redisSentinel,
      masterName: stack.redisSentinel.masterName, dataPorts: stack.redisSentinel.dataPorts, sentinelPorts: stack.redisSentinel.sentinelPorts,
      quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 30_000,
    },
  };
}

/**
 * Starts (or reuses) the Redis topologies asked for (`options.topologies`, else the switched-on
 * ones), in parallel; throws a StackError naming every failure.
 *
 * @example
 *   await stackUpTopologies({ topologies: ['redis-cluster'] })
 *   // => [{ topology: 'redis-cluster', action: 'started', addresses: '127.0.0.1:17000,...,127.0.0.1:17005', ms: 2300 }]
 */
export async function stackUpTopologies(options: StackOptions = {}): Promise<TopologyUpResult[]> {
  const log = options.log ?? toStdout;
  const specs = stackTopologySpecs(options);
  const names = options.topologies ?? switchedOnTopologies(options.env ?? process.env);
  const settled = await Promise.allSettled(
    names.map(async (name) => {
      try {
        const result = name === 'redis-cluster' ? await ensureRedisCluster(specs[name], log) : await ensureRedisSentinel(specs[name], log);
        const how = result.action === 'started' ? `started in ${(result.ms / 1000).toFixed(1)} s` : 'reusing';
        log(`  ${name.padEnd(14)} ${result.addresses} ${how}`);
        return result;
      } catch (error) {
        log(`  ${name.padEnd(14)} FAILED`);
        throw error;
      }
    }),
  );
  const failures = settled.flatMap((s, n) => (s.status === 'rejected' ? [`${names[n]}: ${messageOf(s.reason)}`] : []));
  if (failures.length > 0) throw new StackError(`the Redis topologies are not up:\n${failures.join('\n\n')}`);
  return settled.map((s) => (s as PromiseFulfilledResult<TopologyUpResult>).value);
}

/** Stops the topologies' nodes that `up` started (their pid files), whether switched on or not. */
export async function stackDownTopologies(options: StackOptions = {}): Promise<Array<{ topology: TopologyName; outcome: string }>> {
  const log = options.log ?? toStdout;
  const specs = stackTopologySpecs(options);
  return Promise.all(
    (options.topologies ?? TOPOLOGY_NAMES).map(async (name) => {
      const outcome = await stopRedisTopology(specs[name]);
      if (outcome === 'stopped') log(`  ${name.padEnd(14)} stopped`);
      return { topology: name, outcome };
    }),
  );
}

/** The topologies that are switched on or answer: their nodes, roles, pids and health. */
export async function stackTopologyStatus(options: StackOptions = {}): Promise<TopologyStatus[]> {
  return Promise.all((await activeTopologies(options)).map((name) => redisTopologyStatus(name, stackTopologySpecs(options)[name])));
}

/** The topologies asked for, switched on, or answering at their ports. */
export async function activeTopologies(options: StackOptions = {}): Promise<TopologyName[]> {
  const asked = options.topologies ?? switchedOnTopologies(options.env ?? process.env);
  const specs = stackTopologySpecs(options);
  const answering = await Promise.all(TOPOLOGY_NAMES.map((name) => redisTopologyAnswers(specs[name])));
  return TOPOLOGY_NAMES.filter((name, n) => asked.includes(name) || answering[n]);
}
