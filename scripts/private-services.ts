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
 *
 * The Redis topologies for failover tests, on free ports likewise (scripts/stack/redis-topology.ts):
 *
 *   const cluster = await startPrivateRedisCluster();   // 3 masters + 3 replicas, failover after 2 s
 *   new Cluster(cluster.nodes)                           // ioredis
 *   const [master] = await cluster.masters();
 *   await cluster.kill(master.port);                     // SIGKILL
 *   await cluster.waitForPromotion(master.port)          // => { port: 24113 (its replica), ms: 3200 }
 *   const sentinel = await startPrivateRedisSentinel();  // new Redis({ sentinels: sentinel.sentinels, name: sentinel.name })
 *   await sentinel.kill((await sentinel.master()).port);
 *   await sentinel.waitForPromotion(old)                 // => { port: 25102, ms: 4100 }
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { localStack, STACK_PORT_VARIABLES, type LocalStack } from '../config/local-stack.ts';
import {
  clusterInfo,
  ensureRedisCluster,
  ensureRedisSentinel,
  ensureRunning,
  instanceStatus,
  killInstance,
  killRedisNode,
  redisClusterHealthy,
  redisClusterNodes,
  redisSentinelHealthy,
  removeRedisTopology,
  REPO_ROOT,
  roleOf,
  sentinelAgreedMaster,
  stopInstance,
  stopRedisTopology,
  topologyPids,
  waitUntil,
  type ClusterNode,
  type Instance,
  type Log,
  type RedisClusterSpec,
  type RedisSentinelSpec,
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

export interface PrivateTopologyOptions extends PrivateServiceOptions {
  /** How long a master may not answer before it is failed over: 2000 ms by default. */
  readonly failoverAfterMs?: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A promotion seen: the replica now master, and how long it took from the wait's start. */
export interface Promotion {
  readonly port: number;
  readonly ms: number;
}

export interface PrivateRedisCluster {
  /** The six nodes, for `new Cluster(nodes)`. */
  readonly nodes: readonly HostPort[];
  readonly dir: string;
  readonly spec: RedisClusterSpec;
  /** The cluster as a live node sees it (CLUSTER NODES), leaving out the views of the ports given. */
  clusterNodes(exceptPorts?: readonly number[]): Promise<ClusterNode[]>;
  /** The masters serving slots and not failed. */
  masters(): Promise<ClusterNode[]>;
  /** Kills a node with SIGKILL, as a crash would (it keeps no data: it comes back empty). */
  kill(port: number): Promise<void>;
  /** Starts the killed nodes again (a killed master rejoins as a replica) and waits until the cluster is healthy. */
  start(): Promise<void>;
  /** 3 masters with a replica each, every node up, cluster_state:ok with all slots. */
  healthy(): Promise<boolean>;
  /**
   * Waits (30 s by default) until a replica of the killed master serves its slots and every
   * live node says cluster_state:ok with all 16384 slots.
   */
  waitForPromotion(formerMaster: number, timeoutMs?: number): Promise<Promotion>;
  /** Kills every node and deletes the folder. Also done, by SIGKILL, when the process exits. */
  dispose(): Promise<void>;
}

export interface PrivateRedisSentinel {
  /** The three sentinels and the master's name, for `new Redis({ sentinels, name })`. */
  readonly sentinels: readonly HostPort[];
  readonly name: string;
  /** The master's and the replica's ports (first roles; a failover swaps them). */
  readonly dataPorts: readonly number[];
  readonly dir: string;
  readonly spec: RedisSentinelSpec;
  /** The master the sentinels agree on. */
  master(): Promise<HostPort>;
  kill(port: number): Promise<void>;
  /** Starts the killed nodes again (a killed master comes back as a replica) and waits until healthy. */
  start(): Promise<void>;
  healthy(): Promise<boolean>;
  /** Waits (30 s by default) until every answering sentinel names another master, which says it is master. */
  waitForPromotion(formerMaster: number, timeoutMs?: number): Promise<Promotion>;
  dispose(): Promise<void>;
}

/**
 * A private Redis Cluster of 3 masters and 3 replicas on free ports (and free bus ports), its
 * nodes' folders under `.granary/private/redis-cluster-*`, no data kept on disk.
 */
export async function startPrivateRedisCluster(options: PrivateTopologyOptions = {}): Promise<PrivateRedisCluster> {
  const free = await freePorts(12);
  const spec: RedisClusterSpec = {
    host: '127.0.0.1', dir: privateDir('redis-cluster', options), persist: false,
    ports: free.slice(0, 6), busPorts: free.slice(6), nodeTimeoutMs: options.failoverAfterMs ?? 2000,
  };
  const replicasOfKilled = new Map<number, number[]>();
  const nodes = (except: readonly number[] = []): Promise<ClusterNode[]> => redisClusterNodes(spec, except);
  const handle: PrivateRedisCluster = {
    nodes: spec.ports.map((port) => ({ host: spec.host, port })),
    dir: spec.dir,
    spec,
    clusterNodes: nodes,
    masters: async () => (await nodes()).filter((n) => n.role === 'master' && !n.failed && n.slots > 0).sort((a, b) => a.port - b.port),
    async kill(port) {
      // Its replicas as the other nodes see them, once they do: right after the cluster formed,
      // gossip may not have told them yet, and waitForPromotion needs to know whom to watch.
      let replicas: number[] = [];
      await waitUntil(async () => {
        const all = await nodes([port]);
        const id = all.find((n) => n.port === port)?.id;
        replicas = all.filter((n) => n.masterId !== null && n.masterId === id).map((n) => n.port);
        return replicas.length > 0 || all.find((n) => n.port === port)?.role !== 'master';
      }, 10_000, async () => new Error(`no node knows a replica of ${spec.host}:${port} after 10 s: ${JSON.stringify(await nodes([port]))}`));
      replicasOfKilled.set(port, replicas);
      await killRedisNode(spec, port);
    },
    start: async () => void (await ensureRedisCluster(spec, logOf(options))),
    healthy: () => redisClusterHealthy(spec),
    async waitForPromotion(formerMaster, timeoutMs = 30_000) {
      const t0 = performance.now();
      const candidates = replicasOfKilled.get(formerMaster);
      let promoted = 0;
      await waitUntil(async () => {
        const view = await nodes([formerMaster]);
        const former = view.find((n) => n.port === formerMaster);
        const replicas = candidates ?? view.filter((n) => n.masterId !== null && n.masterId === former?.id).map((n) => n.port);
        promoted = view.find((n) => replicas.includes(n.port) && n.role === 'master' && !n.failed && n.slots > 0)?.port ?? 0;
        if (promoted === 0) return false;
        const live = spec.ports.filter((p) => p !== formerMaster);
        const infos = await Promise.all(live.map((p) => clusterInfo(spec.host, p)));
        return infos.every((i) => i.cluster_state === 'ok' && i.cluster_slots_ok === '16384');
      }, timeoutMs, async () => new Error(`no replica of ${spec.host}:${formerMaster} was promoted within ${timeoutMs} ms: ${JSON.stringify(await nodes([formerMaster]))}`));
      return { port: promoted, ms: Math.round(performance.now() - t0) };
    },
    dispose: () => disposeTopology(spec),
  };
  return startTopology(spec, handle, () => ensureRedisCluster(spec, logOf(options)));
}

/**
 * A private Sentinel setup on free ports: a master and its replica, three sentinels (quorum 2)
 * watching it as `granary`, failing it over after 2 s without an answer; no data kept on disk.
 */
export async function startPrivateRedisSentinel(options: PrivateTopologyOptions = {}): Promise<PrivateRedisSentinel> {
  const free = await freePorts(5);
  const spec: RedisSentinelSpec = {
    host: '127.0.0.1', dir: privateDir('redis-sentinel', options), persist: false,
    masterName: 'granary', dataPorts: free.slice(0, 2), sentinelPorts: free.slice(2),
    quorum: 2, downAfterMs: options.failoverAfterMs ?? 2000, failoverTimeoutMs: 10_000,
  };
  const handle: PrivateRedisSentinel = {
    sentinels: spec.sentinelPorts.map((port) => ({ host: spec.host, port })),
    name: spec.masterName,
    dataPorts: spec.dataPorts,
    dir: spec.dir,
    spec,
    async master() {
      const master = await sentinelAgreedMaster(spec);
      if (master === null) throw new Error(`the sentinels of ${spec.dir} do not agree on a master`);
      return master;
    },
    kill: async (port) => void (await killRedisNode(spec, port)),
    start: async () => void (await ensureRedisSentinel(spec, logOf(options))),
    healthy: () => redisSentinelHealthy(spec),
    async waitForPromotion(formerMaster, timeoutMs = 30_000) {
      const t0 = performance.now();
      let promoted = 0;
      await waitUntil(async () => {
        const master = await sentinelAgreedMaster(spec);
        promoted = master !== null && master.port !== formerMaster && (await roleOf(spec.host, master.port)) === 'master' ? master.port : 0;
        return promoted !== 0;
      }, timeoutMs, async () => new Error(`the sentinels did not promote a replica of ${spec.host}:${formerMaster} within ${timeoutMs} ms`));
      return { port: promoted, ms: Math.round(performance.now() - t0) };
    },
    dispose: () => disposeTopology(spec),
  };
  return startTopology(spec, handle, () => ensureRedisSentinel(spec, logOf(options)));
}

const live = new Set<Instance>();
const liveTopologies = new Set<RedisClusterSpec | RedisSentinelSpec>();
let exitHooked = false;

function privateDir(name: string, options: PrivateServiceOptions): string {
  const root = options.root ?? join(REPO_ROOT, '.granary', 'private');
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, `${name}-`));
}

const logOf = (options: PrivateServiceOptions): Log => options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

async function startTopology<T>(spec: RedisClusterSpec | RedisSentinelSpec, handle: T, start: () => Promise<unknown>): Promise<T> {
  if (!exitHooked) process.once('exit', killAllPrivate);
  exitHooked = true;
  liveTopologies.add(spec);
  try {
    await start();
  } catch (error) {
    await disposeTopology(spec).catch(() => {});
    throw error;
  }
  return handle;
}

/** Kills a private topology's nodes (they keep nothing worth a graceful stop) and deletes its folder. */
async function disposeTopology(spec: RedisClusterSpec | RedisSentinelSpec): Promise<void> {
  for (const pid of topologyPids(spec)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await stopRedisTopology(spec); // waits for what is left to exit
  removeRedisTopology(spec);
  liveTopologies.delete(spec);
}

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
  for (const spec of liveTopologies) {
    for (const pid of topologyPids(spec)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    removeRedisTopology(spec);
  }
  liveTopologies.clear();
}

/** `count` distinct free ports (freePort's range). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
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
