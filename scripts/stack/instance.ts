import { join } from 'node:path';
import type { LocalStack } from '../../config/local-stack.ts';

export type ServiceName = 'redis' | 'postgres' | 'minio' | 'temporal';
export const SERVICE_NAMES: readonly ServiceName[] = ['redis', 'postgres', 'minio', 'temporal'];

/** Where output goes: one line at a time. */
export type Log = (line: string) => void;
export const toStdout: Log = (line) => process.stdout.write(`${line}\n`);

/**
 * One copy of a service: the addresses it answers on and the folder holding its files (data,
 * log, pid file). The shared stack has one per service under `.granary/stack/`; the fault tests'
 * private services each have their own (scripts/private-services.ts).
 *
 * @example
 *   const i: Instance = { service: 'redis', stack: localStack(), dir: '.granary/stack/redis' };
 *   logFile(i) // => '.granary/stack/redis/redis.log'
 */
export interface Instance {
  readonly service: ServiceName;
  readonly stack: LocalStack;
  readonly dir: string;
}

/** The instance's log: the server's output, and that of what ran for it. */
export const logFile = (i: Instance): string => join(i.dir, `${i.service}.log`);
