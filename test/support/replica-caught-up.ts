import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * Waits until the replica on `replicaPort` has every byte of the master's replication stream
 * (its slave_repl_offset reached the master's master_repl_offset), within 15 s: after it, a
 * failover loses nothing the master acknowledged.
 *
 * @example
 *   await replicaCaughtUp({ host: '127.0.0.1', port: 24110 }, 24111);
 */
export async function replicaCaughtUp(master: { readonly host: string; readonly port: number }, replicaPort: number): Promise<void> {
  const offset = (info: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? -1);
  const [m, r] = [new Redis(master.port, master.host), new Redis(replicaPort, master.host)];
  try {
    for (const deadline = Date.now() + 15_000; ; await sleep(50)) {
      const [mi, ri] = await Promise.all([m.info('replication'), r.info('replication')]);
      if (offset(ri, 'slave_repl_offset') >= offset(mi, 'master_repl_offset')) return;
      if (Date.now() > deadline) throw new Error(`replica ${replicaPort} did not catch up with the master within 15 s:\n${ri}`);
    }
  } finally {
    m.disconnect();
    r.disconnect();
  }
}
