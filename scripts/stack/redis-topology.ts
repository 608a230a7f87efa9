/**
 * Redis topologies of several `redis-server` processes on loopback, from Debian's redis-server
 * (no Docker): a Redis Cluster (half the nodes masters, one replica each; `redis-cli --cluster
 * create` only when the nodes are blank) and a Sentinel setup (a master, its replica and three
 * sentinels, `redis-server <conf> --sentinel`). Each node daemonizes with its pid file, log,
 * data and config (nodes.conf, sentinel.conf) in a folder of its own under the topology's folder.
 * `ensure*` is idempotent: a healthy topology is reused; otherwise the nodes that are down are
 * started (a cluster node from its nodes.conf, so a stopped cluster comes back as it was) and it
 * waits until the topology is healthy. Used by the shared stack (`up --redis-cluster`,
 * `--redis-sentinel`) and by the fault tests' private copies (scripts/private-services.ts).
 *
 * @example
 *   const spec = { host: '127.0.0.1', dir: '.granary/stack/redis-cluster', ports: [17000, ..., 17005], nodeTimeoutMs: 5000, persist: true };
 *   await ensureRedisCluster(spec) // => { topology: 'redis-cluster', action: 'started', addresses: '127.0.0.1:17000,...', ms: 2400 }
 *   (await redisClusterNodes(spec)).filter((n) => n.role === 'master').length // => 3
 *   await stopRedisTopology(spec) // => 'stopped'
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { localStack } from '../../config/local-stack.ts';
import { ensureAptBinary } from './installers.ts';
import { toStdout, type Instance, type Log } from './instance.ts';
import { commandLine, ensureDir, isAlive, readPid, requireOnPath, signalAndWait, sleep, tail, waitUntil, withLockFile } from './process-control.ts';
import { redisCommand, redisReply, tcpAnswers, type RedisReply } from './service-readiness.ts';
import { StackError } from './stack-error.ts';

export type TopologyName = 'redis-cluster' | 'redis-sentinel';

interface TopologyBase {
  readonly host: string;
  /** The topology's folder: one subfolder per node (`node-<port>`, `data-<port>`, `sentinel-<port>`). */
  readonly dir: string;
  /** Whether a graceful stop saves each node's data (dump.rdb) for its next start. */
  readonly persist: boolean;
  /** The variable that moves the ports, for the message when one is taken. */
  readonly portVariable?: string;
}

export interface RedisClusterSpec extends TopologyBase {
  /** The nodes' ports: the first half become masters, one replica each (`--cluster-replicas 1`). */
  readonly ports: readonly number[];
  /** Each node's cluster bus port; port + 10000 (Redis' default) when absent. */
  readonly busPorts?: readonly number[];
  /** How long a node may not answer before it is failed over (Redis' default is 15000). */
  readonly nodeTimeoutMs: number;
}

export interface RedisSentinelSpec extends TopologyBase {
  readonly masterName: string;
  /** The master at first, then its replica; after a failover their roles may be the other way. */
  readonly dataPorts: readonly number[];
  readonly sentinelPorts: readonly number[];
  /** Sentinels that must agree a master is down (2 of 3). */
  readonly quorum: number;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
}

export interface TopologyUpResult {
  readonly topology: TopologyName;
  /** `started`: this call started nodes or formed the topology; `reused`: it was healthy already. */
  readonly action: 'started' | 'reused';
  /** What a client is given: the cluster's nodes or the sentinels, `host:port,...`. */
  readonly addresses: string;
  readonly ms: number;
}

export interface TopologyNodeStatus {
  readonly port: number;
  /** What the node says it is (ROLE): master, slave or sentinel; null when it does not answer. */
  readonly role: string | null;
  /** The live pid from the node's own pid file, or null. */
  readonly pid: number | null;
}

export interface TopologyStatus {
  readonly topology: TopologyName;
  readonly addresses: string;
  readonly healthy: boolean;
  readonly nodes: readonly TopologyNodeStatus[];
}

/** One node of a cluster as CLUSTER NODES lists it. */
export interface ClusterNode {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** `fail` or `fail?` among its flags: the cluster holds it down (or suspects it). */
  readonly failed: boolean;
  /** The id of its master, for a replica. */
  readonly masterId: string | null;
  /** How many hash slots it serves. */
  readonly slots: number;
}

const SLOTS = 16384;
const run = promisify(execFile);

// -- Redis Cluster -------------------------------------------------------------------------------

export const clusterNodeDir = (spec: RedisClusterSpec, port: number): string => join(spec.dir, `node-${port}`);

/** Makes the cluster healthy: starts the nodes that are down, forms it when they are blank, waits. */
export async function ensureRedisCluster(spec: RedisClusterSpec, log: Log = toStdout): Promise<TopologyUpResult> {
  const t0 = performance.now();
  const result = (action: TopologyUpResult['action']): TopologyUpResult => ({
    topology: 'redis-cluster', action, addresses: addresses(spec.host, spec.ports), ms: Math.round(performance.now() - t0),
  });
  ensureDir(spec.dir);
  return withLockFile(join(spec.dir, 'up.lock'), async () => {
    if (await redisClusterHealthy(spec)) return result('reused');
    await installRedis(spec.dir, log, true);
    await startNodes(spec, spec.ports.map((port, n) => ({ port, dir: clusterNodeDir(spec, port), busPort: busPortOf(spec, port, n), args: clusterArgs(spec, port, n) })));
    const infos = await Promise.all(spec.ports.map((port) => clusterInfo(spec.host, port)));
    if (infos.every((info) => info.cluster_known_nodes === '1' && info.cluster_slots_assigned === '0')) {
      const file = join(spec.dir, 'create.log');
      const nodes = spec.ports.map((port) => `${spec.host}:${port}`);
      await run(requireOnPath('redis-cli'), ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 }).then(
        ({ stdout }) => writeFileSync(file, stdout),
        (error: { stdout?: string; stderr?: string; message: string }) => {
          throw new StackError(`redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
        },
      );
    }
    await waitUntil(() => redisClusterHealthy(spec), 90_000, async () => {
      const nodes = await redisClusterNodes(spec).catch(() => []);
      const where = `\nIts nodes: ${JSON.stringify(nodes)}\nThe first node's log ends with:\n${tail(join(clusterNodeDir(spec, spec.ports[0]!), 'redis.log'))}`;
      return new StackError(`the Redis Cluster on ${addresses(spec.host, spec.ports)} did not become healthy (cluster_state:ok, ${SLOTS} slots, every master with a replica) within 90 s; to start it afresh: npm run stack -- down, then delete ${spec.dir}${where}`);
    });
    return result('started');
  }, (holder) => log(`  redis-cluster: waiting for another 'stack up' (pid ${holder}) starting it`));
}

/** The cluster as its first answering node sees it (CLUSTER NODES); [] when none answers. */
export async function redisClusterNodes(spec: Pick<RedisClusterSpec, 'host' | 'ports'>, exceptPorts: readonly number[] = []): Promise<ClusterNode[]> {
  for (const port of spec.ports) {
    if (exceptPorts.includes(port)) continue;
    const text = await redisReply(spec.host, port, ['CLUSTER', 'NODES']).catch(() => null);
    if (typeof text === 'string') return parseClusterNodes(text);
  }
  return [];
}

/** CLUSTER INFO of one node as fields (`cluster_state: 'ok'`); {} when it does not answer. */
export async function clusterInfo(host: string, port: number): Promise<Record<string, string>> {
  const text = await redisReply(host, port, ['CLUSTER', 'INFO']).catch(() => null);
  return typeof text === 'string' ? fields(text) : {};
}

/**
 * Healthy: every node answers with cluster_state:ok and all 16384 slots served, and the cluster
 * holds every node, none failed, half masters serving slots, each with at least one replica.
 */
export async function redisClusterHealthy(spec: RedisClusterSpec): Promise<boolean> {
  const infos = await Promise.all(spec.ports.map((port) => clusterInfo(spec.host, port)));
  const count = String(spec.ports.length);
  if (!infos.every((i) => i.cluster_state === 'ok' && i.cluster_slots_ok === String(SLOTS) && i.cluster_known_nodes === count)) return false;
  const nodes = await redisClusterNodes(spec);
  const masters = nodes.filter((n) => n.role === 'master' && n.slots > 0);
  return (
    nodes.length === spec.ports.length &&
    nodes.every((n) => !n.failed && spec.ports.includes(n.port)) &&
    masters.length === Math.floor(spec.ports.length / 2) &&
    masters.every((m) => nodes.some((n) => n.role === 'replica' && n.masterId === m.id)) &&
    // A replica that never finished its first sync could not be failed over to.
    (await Promise.all(nodes.filter((n) => n.role === 'replica').map((n) => replicaLinked(spec.host, n.port)))).every(Boolean)
  );
}

function clusterArgs(spec: RedisClusterSpec, port: number, n: number): string[] {
  const dir = clusterNodeDir(spec, port);
  return [
    ...dataNodeArgs(spec, port, dir),
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'),
    '--cluster-node-timeout', String(spec.nodeTimeoutMs), '--cluster-port', String(busPortOf(spec, port, n)),
  ];
}

const busPortOf = (spec: RedisClusterSpec, port: number, n: number): number => spec.busPorts?.[n] ?? port + 10000;

function parseClusterNodes(text: string): ClusterNode[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
    const flagList = flags.split(',');
    const served = slots.filter((s) => !s.startsWith('[')).reduce((sum, s) => {
      const [from, to = from] = s.split('-').map(Number);
      return sum + (to! - from! + 1);
    }, 0);
    return {
      id,
      port: Number(/:(\d+)@/.exec(address)?.[1] ?? 0),
      role: flagList.includes('master') ? 'master' : 'replica',
      failed: flagList.includes('fail') || flagList.includes('fail?'),
      masterId: master === '-' ? null : master,
      slots: served,
    } as const;
  });
}

// -- Sentinel ------------------------------------------------------------------------------------

export const sentinelDataDir = (spec: RedisSentinelSpec, port: number): string => join(spec.dir, `data-${port}`);
export const sentinelDir = (spec: RedisSentinelSpec, port: number): string => join(spec.dir, `sentinel-${port}`);

/**
 * Makes the Sentinel setup healthy: starts the data nodes that are down (as replicas of the one
 * that is master now, else by their first roles), then the sentinels (with a fresh sentinel.conf
 * watching that master when none runs; else from the one each rewrote), and waits until they agree.
 */
export async function ensureRedisSentinel(spec: RedisSentinelSpec, log: Log = toStdout): Promise<TopologyUpResult> {
  const t0 = performance.now();
  const result = (action: TopologyUpResult['action']): TopologyUpResult => ({
    topology: 'redis-sentinel', action, addresses: addresses(spec.host, spec.sentinelPorts), ms: Math.round(performance.now() - t0),
  });
  ensureDir(spec.dir);
  return withLockFile(join(spec.dir, 'up.lock'), async () => {
    if (await redisSentinelHealthy(spec)) return result('reused');
    await installRedis(spec.dir, log, false);
    await checkPortsFree(spec, nodesOf(spec));
    const master = (await liveMasterByRole(spec)) ?? spec.dataPorts[0]!;
    await startNodes(spec, spec.dataPorts.map((port) => {
      const dir = sentinelDataDir(spec, port);
      const role = port === master ? [] : ['--replicaof', spec.host, String(master)];
      return { port, dir, args: [...dataNodeArgs(spec, port, dir), ...role] };
    }));
    // The sentinels learn the replicas from the master's INFO: start them once the replica is linked.
    await waitUntil(async () => replicasOf(spec.host, master).then((n) => n >= spec.dataPorts.length - 1), 60_000, async () =>
      new StackError(`the replica of ${spec.host}:${master} did not link within 60 s; its log ends with:\n${tail(join(sentinelDataDir(spec, spec.dataPorts.find((p) => p !== master)!), 'redis.log'))}`));
    const fresh = (await Promise.all(spec.sentinelPorts.map((port) => livePid(sentinelDir(spec, port))))).every((pid) => pid === null);
    await startNodes(spec, spec.sentinelPorts.map((port) => {
      const dir = ensureDir(sentinelDir(spec, port));
      const conf = join(dir, 'sentinel.conf');
      if (fresh || !existsSync(conf)) writeFileSync(conf, sentinelConf(spec, port, dir, master));
      return { port, dir, args: [conf, '--sentinel'] };
    }));
    await waitUntil(() => redisSentinelHealthy(spec), 60_000, async () =>
      new StackError(`the sentinels on ${addresses(spec.host, spec.sentinelPorts)} did not agree on master '${spec.masterName}' within 60 s; the first one's log ends with:\n${tail(join(sentinelDir(spec, spec.sentinelPorts[0]!), 'redis.log'))}`));
    return result('started');
  }, (holder) => log(`  redis-sentinel: waiting for another 'stack up' (pid ${holder}) starting it`));
}

/** What one sentinel says of the master (SENTINEL MASTER): ip, port, flags, num-slaves, num-other-sentinels, ... */
export async function sentinelMasterView(host: string, port: number, name: string): Promise<Record<string, string> | null> {
  const reply = await redisReply(host, port, ['SENTINEL', 'MASTER', name]).catch(() => null);
  if (!Array.isArray(reply)) return null;
  const view: Record<string, string> = {};
  for (let n = 0; n + 1 < reply.length; n += 2) view[String(reply[n])] = String(reply[n + 1]);
  return view;
}

/** The master every answering sentinel names (get-master-addr-by-name), or null when they differ or none answers. */
export async function sentinelAgreedMaster(spec: RedisSentinelSpec): Promise<{ host: string; port: number } | null> {
  const replies = await Promise.all(spec.sentinelPorts.map((port) =>
    redisReply(spec.host, port, ['SENTINEL', 'get-master-addr-by-name', spec.masterName]).catch(() => undefined)));
  const named = replies.filter((r): r is RedisReply[] => Array.isArray(r)).map((r) => `${r[0]}:${r[1]}`);
  if (named.length === 0 || new Set(named).size !== 1) return null;
  const [host = '', port = ''] = named[0]!.split(':');
  return { host, port: Number(port) };
}

/**
 * Healthy: every sentinel answers, all name the same master, which says it is master with its
 * replicas linked, and each sentinel sees it up, its replicas and every other sentinel.
 */
export async function redisSentinelHealthy(spec: RedisSentinelSpec): Promise<boolean> {
  const master = await sentinelAgreedMaster(spec);
  if (master === null) return false;
  const views = await Promise.all(spec.sentinelPorts.map((port) => sentinelMasterView(spec.host, port, spec.masterName)));
  const replicas = spec.dataPorts.length - 1;
  if (!views.every((v) => v !== null && v.flags === 'master' && Number(v['num-slaves']) >= replicas && Number(v['num-other-sentinels']) === spec.sentinelPorts.length - 1)) return false;
  if ((await roleOf(spec.host, master.port)) !== 'master' || (await replicasOf(spec.host, master.port)) < replicas) return false;
  const others = spec.dataPorts.filter((port) => port !== master.port);
  return (await Promise.all(others.map((port) => replicaLinked(spec.host, port)))).every(Boolean);
}

function sentinelConf(spec: RedisSentinelSpec, port: number, dir: string, master: number): string {
  const name = spec.masterName;
  return [
    `port ${port}`, `bind ${spec.host}`, 'daemonize yes', `pidfile ${join(dir, 'redis.pid')}`, `logfile ${join(dir, 'redis.log')}`, `dir ${dir}`,
    `sentinel monitor ${name} ${spec.host} ${master} ${spec.quorum}`,
    `sentinel down-after-milliseconds ${name} ${spec.downAfterMs}`,
    `sentinel failover-timeout ${name} ${spec.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n');
}

/** The data node that answers ROLE with master, if any. */
async function liveMasterByRole(spec: RedisSentinelSpec): Promise<number | null> {
  for (const port of spec.dataPorts) if ((await roleOf(spec.host, port)) === 'master') return port;
  return null;
}

// -- Both ----------------------------------------------------------------------------------------

/** Each node's port and folder, for either topology. */
function nodesOf(spec: RedisClusterSpec | RedisSentinelSpec): Array<{ port: number; dir: string }> {
  if ('ports' in spec) return spec.ports.map((port) => ({ port, dir: clusterNodeDir(spec, port) }));
  return [
    ...spec.dataPorts.map((port) => ({ port, dir: sentinelDataDir(spec, port) })),
    ...spec.sentinelPorts.map((port) => ({ port, dir: sentinelDir(spec, port) })),
  ];
}

/** The live pids of the topology's nodes. */
export function topologyPids(spec: RedisClusterSpec | RedisSentinelSpec): number[] {
  return nodesOf(spec).map((node) => livePid(node.dir)).filter((pid): pid is number => pid !== null);
}

/** Stops the topology's live nodes (their pid files), gracefully then SIGKILL after 30 s. */
export async function stopRedisTopology(spec: RedisClusterSpec | RedisSentinelSpec): Promise<'stopped' | 'not running'> {
  const pids = topologyPids(spec);
  await Promise.all(pids.map(async (pid) => {
    if (!(await signalAndWait(pid, 'SIGTERM', 30_000))) await signalAndWait(pid, 'SIGKILL', 5000);
  }));
  return pids.length > 0 ? 'stopped' : 'not running';
}

/**
 * Kills one node with SIGKILL, as a crash would, and waits until its port is free.
 *
 * @example
 *   await killRedisNode(spec, 17000) // => 4242 (its pid), or null when it was not running
 */
export async function killRedisNode(spec: RedisClusterSpec | RedisSentinelSpec, port: number): Promise<number | null> {
  const node = nodesOf(spec).find((n) => n.port === port);
  if (node === undefined) throw new Error(`${port} is not a port of this topology`);
  const pid = livePid(node.dir);
  if (pid === null) return null;
  await signalAndWait(pid, 'SIGKILL', 30_000);
  for (const deadline = Date.now() + 30_000; (await tcpAnswers(spec.host, port)) && Date.now() < deadline; ) await sleep(100);
  return pid;
}

/** Each node: its port, what it says it is, its pid; and whether the topology is healthy. */
export async function redisTopologyStatus(topology: TopologyName, spec: RedisClusterSpec | RedisSentinelSpec): Promise<TopologyStatus> {
  const nodes = await Promise.all(nodesOf(spec).map(async ({ port, dir }) => ({ port, role: await roleOf(spec.host, port), pid: livePid(dir) })));
  const healthy = 'ports' in spec ? await redisClusterHealthy(spec) : await redisSentinelHealthy(spec);
  const ports = 'ports' in spec ? spec.ports : spec.sentinelPorts;
  return { topology, addresses: addresses(spec.host, ports), healthy, nodes };
}

/** Whether any node of the topology answers (a quick TCP look, for `env`). */
export async function redisTopologyAnswers(spec: RedisClusterSpec | RedisSentinelSpec): Promise<boolean> {
  const answers = await Promise.all(nodesOf(spec).map((node) => tcpAnswers(spec.host, node.port, 300)));
  return answers.some(Boolean);
}

/** The folders of the topology's nodes, to delete once it is stopped. */
export function removeRedisTopology(spec: RedisClusterSpec | RedisSentinelSpec): void {
  rmSync(spec.dir, { recursive: true, force: true });
}

/** The live pid from a node's own pid file (a daemonized redis-server writes it), or null. */
export function livePid(dir: string): number | null {
  const pid = readPid(join(dir, 'redis.pid'));
  return pid !== null && isAlive(pid) && commandLine(pid).includes('redis-server') ? pid : null;
}

function dataNodeArgs(spec: TopologyBase, port: number, dir: string): string[] {
  return [
    '--port', String(port), '--bind', spec.host, '--daemonize', 'yes', '--pidfile', join(dir, 'redis.pid'),
    '--dir', dir, '--logfile', join(dir, 'redis.log'), '--save', '', '--appendonly', 'no',
    // A replica's first sync starts at once (Redis waits 5 s for more replicas by default).
    '--repl-diskless-sync-delay', '0',
    ...(spec.persist ? ['--shutdown-on-sigterm', 'save', '--shutdown-on-sigint', 'save'] : []),
  ];
}

interface NodeToStart {
  readonly port: number;
  readonly dir: string;
  /** A cluster node's bus port, which must be free too. */
  readonly busPort?: number;
}

/** Throws, before anything starts, when a port of a node that is down is taken by something else. */
async function checkPortsFree(spec: TopologyBase, nodes: readonly NodeToStart[]): Promise<void> {
  const move = spec.portVariable ? `: stop it, or move the ports with ${spec.portVariable}` : '';
  for (const { port, dir, busPort } of nodes.filter((n) => livePid(n.dir) === null)) {
    if (await tcpAnswers(spec.host, port)) {
      throw new StackError(`something answers on ${spec.host}:${port} that is not this topology's node (no live pid file in ${dir})${move}`);
    }
    if (busPort !== undefined && (await tcpAnswers(spec.host, busPort))) {
      throw new StackError(`the cluster bus port ${spec.host}:${busPort} of node ${port} is taken${move}`);
    }
  }
}

/** Starts the nodes that are down, in parallel; every start settles before the first failure is thrown. */
async function startNodes(spec: TopologyBase, nodes: ReadonlyArray<NodeToStart & { readonly args: readonly string[] }>): Promise<void> {
  await checkPortsFree(spec, nodes);
  const settled = await Promise.allSettled(nodes.filter((n) => livePid(n.dir) === null).map((n) => startNode(spec, n.port, n.dir, n.args)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Starts one daemonizing redis-server; waits for its PONG (60 s), failing at once when it exits. */
async function startNode(spec: TopologyBase, port: number, dir: string, args: readonly string[]): Promise<void> {
  ensureDir(dir);
  rmSync(join(dir, 'redis.pid'), { force: true });
  const log = join(dir, 'redis.log');
  await run(requireOnPath('redis-server'), args, { timeout: 30_000 }).catch((error: { message: string }) => {
    throw new StackError(`redis-server on ${spec.host}:${port} did not start: ${error.message}\nIts log ends with:\n${tail(log)}`);
  });
  await waitUntil(async () => {
    const pid = readPid(join(dir, 'redis.pid'));
    if (pid !== null && !isAlive(pid)) throw new StackError(`redis-server on ${spec.host}:${port} exited (pid ${pid}); its log ends with:\n${tail(log)}`);
    return (await redisCommand(spec.host, port, ['PING']).catch(() => '')) === '+PONG';
  }, 60_000, async () => new StackError(`redis-server on ${spec.host}:${port} did not answer PING within 60 s; its log ends with:\n${tail(log)}`));
}

/** redis-server (and redis-cli to form a cluster) from Debian's packages when missing. */
async function installRedis(dir: string, log: Log, cli: boolean): Promise<void> {
  const i: Instance = { service: 'redis', stack: localStack({}), dir };
  await ensureAptBinary('redis-server', ['redis-server'], log, i);
  if (cli) await ensureAptBinary('redis-cli', ['redis-tools'], log, i);
}

/** ROLE's first word (master, slave, sentinel), or null. */
export async function roleOf(host: string, port: number): Promise<string | null> {
  const reply = await redisReply(host, port, ['ROLE']).catch(() => null);
  return Array.isArray(reply) && typeof reply[0] === 'string' ? reply[0] : null;
}

/** Whether a replica's link to its master is up, its first sync done (ROLE: slave, host, port, `connected`). */
export async function replicaLinked(host: string, port: number): Promise<boolean> {
  const reply = await redisReply(host, port, ['ROLE']).catch(() => null);
  return Array.isArray(reply) && reply[0] === 'slave' && reply[3] === 'connected';
}

/** How many replicas a master has linked (ROLE's third element). */
async function replicasOf(host: string, port: number): Promise<number> {
  const reply = await redisReply(host, port, ['ROLE']).catch(() => null);
  return Array.isArray(reply) && reply[0] === 'master' && Array.isArray(reply[2]) ? reply[2].length : 0;
}

const addresses = (host: string, ports: readonly number[]): string => ports.map((port) => `${host}:${port}`).join(',');

/** `name:value` lines (CLUSTER INFO, INFO) as a record. */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}
