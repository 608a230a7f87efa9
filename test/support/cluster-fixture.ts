import { startPrivateRedisCluster, type PrivateRedisCluster } from '../../scripts/private-services.ts';
import { sleep } from '../../scripts/worker-process.ts';
import { FeatureServer } from '../../serving/feature-server.ts';
import { RedisOnlineStore } from '../../stores/online/redis-online-store.ts';
import { servingConsumer } from '../serving/serving-consumer.ts';
import { pipelineFixture } from './pipeline-fixture.ts';

/**
 * A pipeline fixture (test/support/pipeline-fixture.ts) whose online store is a private Redis
 * Cluster of its own (3 masters, 3 replicas), for tests that kill, freeze or reshard its nodes.
 * The caller disposes of `cluster`.
 *
 * @example
 *   const f = await clusterFixture('cluster_failover');
 *   t.after(() => f.cluster.dispose());
 */
export async function clusterFixture(name: string) {
  const cluster = await startPrivateRedisCluster({ log: () => undefined });
  const url = `redis+cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  const f = await pipelineFixture(name, { GRANARY_REDIS_URL: url });
  return { ...f, cluster, url };
}

/**
 * A feature server in this process on the fixture's cluster, as `granary serve` runs (fail fast,
 * 500 ms deadlines), with a consumer allowed every view; closed when the test ends.
 */
export async function clusterServer(t: { after(fn: () => Promise<void>): void }, f: Awaited<ReturnType<typeof clusterFixture>>): Promise<{ url: string; headers: Record<string, string> }> {
  const consumer = await servingConsumer(f);
  const online = new RedisOnlineStore({ url: f.url, keyPrefix: f.config.online.keyPrefix, failFast: true, commandTimeoutMs: 500, connectTimeoutMs: 500 });
  const server = new FeatureServer({ registry: f.registry, online, access: consumer.access, timeoutMs: 500 });
  const url = await server.listen({ port: 0 });
  t.after(async () => {
    await server.close();
    await online.close();
  });
  return { url, headers: consumer.headers };
}

/** A master and its replica (the cluster as one node sees it). */
export async function masterAndReplica(cluster: PrivateRedisCluster): Promise<{ master: number; replica: number }> {
  const nodes = await cluster.clusterNodes();
  const master = (await cluster.masters())[0]!;
  const replica = nodes.find((n) => n.masterId === master.id)!;
  return { master: master.port, replica: replica.port };
}

/** One answer of pollServing: when it was asked (performance.now()), its HTTP status (0: no answer) and latency. */
export interface PolledAnswer {
  readonly at: number;
  readonly status: number;
  readonly ms: number;
  /** The body of an answer that is not a 200 (its first 300 characters), or the fetch's error. */
  readonly error?: string;
}

/**
 * Reads of entities 1..`entities` of driver_stats:trips, one request every `everyMs`, until
 * stopped (at the latest when the test ends, so a failed assertion does not leave it running).
 */
export function pollServing(t: { after(fn: () => Promise<void>): void }, url: string, headers: Record<string, string>, entities: number, everyMs = 50) {
  const answers: PolledAnswer[] = [];
  let stopped = false;
  const body = JSON.stringify({ features: ['driver_stats:trips'], entities: { driver_id: Array.from({ length: entities }, (_, i) => i + 1) } });
  const done = (async () => {
    while (!stopped) {
      const started = performance.now();
      const answer = await fetch(`${url}/get-online-features`, { method: 'POST', body, headers }).then(
        async (r) => ({ status: r.status, text: await r.text() }),
        (error: Error) => ({ status: 0, text: error.message }),
      );
      const ms = performance.now() - started;
      answers.push(answer.status === 200 ? { at: started, status: 200, ms } : { at: started, status: answer.status, ms, error: answer.text.slice(0, 300) });
      await sleep(everyMs);
    }
  })();
  const stop = async (): Promise<void> => {
    stopped = true;
    await done;
  };
  t.after(stop);
  return { answers, stop };
}
