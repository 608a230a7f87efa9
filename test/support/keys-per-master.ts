import type { Cluster } from 'ioredis';

/**
 * How many keys match a pattern on each master of a Redis Cluster (SCAN per node), in
 * `cluster.nodes('master')` order: where a generation's keys landed, or that none is left.
 *
 * @example
 *   await keysPerMaster(raw, 'granary:{*') // => [3412, 3320, 3268]
 */
export async function keysPerMaster(cluster: Cluster, pattern: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes('master').map(async (node) => {
      let cursor = '0';
      let n = 0;
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
      return n;
    }),
  );
}
