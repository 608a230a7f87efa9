/**
 * The local stack, for the scripts and tests that run on it: the shared stack (up, down, status,
 * its GRANARY_* variables), one instance's life (the fault tests' private copies), and the
 * helpers they share. Its command line is cli.ts (`npm run stack`). The folder, by concept:
 * services.ts (the four services, once each) and service-readiness.ts (when each answers),
 * installers.ts (apt-get, `go install` of the pinned tools), process-control.ts (detached
 * servers, pid files, signals, the lock file, waiting), lifecycle.ts (start or reuse, stop,
 * kill, status of one instance), redis-topology.ts (the optional Redis Cluster and Sentinel
 * setup, several redis-server processes each), shared-stack.ts and stack-env.ts.
 *
 * @example
 *   import { stackEnv, stackUp } from '../scripts/stack/index.ts';
 *   await stackUp();                   // => [{ service: 'redis', action: 'started', pid: 4242, ... }, ...]
 *   stackEnv().GRANARY_REDIS_URL       // => 'redis://127.0.0.1:16379'
 */
export { GO_TOOLS, ensureGoTool, locateGoTool, type GoTool } from './installers.ts';
export { logFile, SERVICE_NAMES, type Instance, type Log, type ServiceName } from './instance.ts';
export { ensureRunning, instanceStatus, killInstance, stopInstance, type ServiceStatus, type UpResult } from './lifecycle.ts';
export { ensureDir, isAlive, sleep, waitUntil } from './process-control.ts';
export { redisCommand, tcpAnswers } from './service-readiness.ts';
export {
  ensureRedisCluster,
  ensureRedisSentinel,
  killRedisNode,
  clusterInfo,
  redisClusterHealthy,
  redisClusterNodes,
  redisSentinelHealthy,
  redisTopologyStatus,
  removeRedisTopology,
  roleOf,
  sentinelAgreedMaster,
  stopRedisTopology,
  topologyPids,
  type ClusterNode,
  type RedisClusterSpec,
  type RedisSentinelSpec,
  type TopologyName,
  type TopologyStatus,
  type TopologyUpResult,
} from './redis-topology.ts';
export { addressOf, portOf } from './services.ts';
export {
  activeTopologies,
  DEFAULT_STATE_DIR,
  REPO_ROOT,
  stackDown,
  stackDownTopologies,
  stackInstances,
  stackStateDir,
  stackStatus,
  stackTopologySpecs,
  stackTopologyStatus,
  stackUp,
  stackUpTopologies,
  switchedOnTopologies,
  TOPOLOGY_NAMES,
  TOPOLOGY_SWITCHES,
  type StackOptions,
} from './shared-stack.ts';
export {
  STACK_ENV_VARIABLES,
  STACK_TOPOLOGY_ENV_VARIABLES,
  stackEnv,
  stackEnvLines,
  stackTopologyEnv,
  type StackEnv,
  type StackTopologyEnv,
} from './stack-env.ts';
export { messageOf, StackError } from './stack-error.ts';
