import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { toStdout } from './instance.ts';
import type { TopologyName } from './redis-topology.ts';
import {
  activeTopologies,
  stackDown,
  stackDownTopologies,
  stackStateDir,
  stackStatus,
  stackTopologyStatus,
  stackUp,
  stackUpTopologies,
  switchedOnTopologies,
} from './shared-stack.ts';
import { stackEnvLines } from './stack-env.ts';
import { messageOf, StackError } from './stack-error.ts';

const USAGE = `usage: npm run stack -- <command> [--redis-cluster] [--redis-sentinel]   (ports: GRANARY_STACK_*_PORT; folder: GRANARY_STACK_DIR)
  up               install what is missing, start the four services, wait until each answers
  down             stop the services (and Redis topologies) that 'up' started
  status [--json]  each service: address, running or not, pid, started by granary or external
  env              export lines for a shell: eval "$(npm run -s stack -- env)"
  --redis-cluster  also a Redis Cluster, 3 masters + 3 replicas (or GRANARY_STACK_REDIS_CLUSTER=1)
  --redis-sentinel also a Sentinel setup, master 'granary' + replica + 3 sentinels (or GRANARY_STACK_REDIS_SENTINEL=1)`;

/**
 * `npm run stack -- up | down | status | env`: the shared local stack from the command line
 * (shared-stack.ts). Exits 0, 2 on a usage error, 1 on a failure (its message, without a stack
 * trace unless GRANARY_DEBUG is set and it is not a StackError).
 *
 * @example
 *   npm run stack -- up               # install what is missing, start, wait until each answers
 *   npm run stack -- status --json    # each service: address, running, pid, started by whom
 *   eval "$(npm run -s stack -- env)" # export GRANARY_REDIS_URL=redis://127.0.0.1:16379 ...
 *   npm run stack -- up --redis-cluster --redis-sentinel   # also the Redis Cluster and the Sentinel setup
 *   npm run stack -- down
 */
async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    'redis-cluster': { type: 'boolean' },
    'redis-sentinel': { type: 'boolean' },
  } });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || rest.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const topologies: TopologyName[] = [
    ...new Set([...switchedOnTopologies(), ...(values['redis-cluster'] ? ['redis-cluster' as const] : []), ...(values['redis-sentinel'] ? ['redis-sentinel' as const] : [])]),
  ];
  const where = relative(process.cwd(), stackStateDir()) || stackStateDir();
  switch (command) {
    case 'up': {
      const t0 = performance.now();
      toStdout(`granary stack (${where})`);
      const [services, extra] = await Promise.allSettled([stackUp(), stackUpTopologies({ topologies })]);
      for (const settled of [services, extra]) if (settled.status === 'rejected') throw settled.reason;
      toStdout(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s; point Granary at it with: eval "$(npm run -s stack -- env)"`);
      return 0;
    }
    case 'down':
      toStdout(`granary stack (${where})`);
      await Promise.all([stackDown(), stackDownTopologies()]);
      return 0;
    case 'status': {
      const [statuses, topologyStatuses] = await Promise.all([stackStatus(), stackTopologyStatus({ topologies })]);
      if (values.json) toStdout(JSON.stringify([...statuses, ...topologyStatuses], null, 2));
      else {
        for (const s of statuses) {
          const who = s.startedBy === 'granary' ? `pid ${s.pid}, started by granary` : s.startedBy === 'external' ? 'external' : '';
          toStdout(`  ${s.service.padEnd(9)} ${s.address.padEnd(16)} ${(s.running ? 'running' : s.pid !== null ? 'not answering' : 'not running').padEnd(8)} ${who}`.trimEnd());
        }
        for (const t of topologyStatuses) {
          toStdout(`  ${t.topology} ${t.healthy ? 'healthy' : 'NOT healthy'}: ${t.addresses}`);
          for (const n of t.nodes) toStdout(`    ${String(n.port).padEnd(6)} ${(n.role ?? 'not answering').padEnd(14)} ${n.pid !== null ? `pid ${n.pid}` : ''}`.trimEnd());
        }
      }
      return 0;
    }
    case 'env':
      toStdout(stackEnvLines(process.env, await activeTopologies({ topologies })).join('\n'));
      return 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`stack: ${messageOf(error)}\n`);
    if (!(error instanceof StackError) && process.env.GRANARY_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
