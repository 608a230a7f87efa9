import { readFile } from 'node:fs/promises';

/** What Linux's /proc says of a process: resident memory now and at its peak, and CPU time so far. */
export interface ProcessUsage {
  readonly rssMiB: number;
  /** The process's peak resident set since it started (VmHWM). */
  readonly rssPeakMiB: number;
  /** User + system CPU time, ms. */
  readonly cpuMs: number;
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * Another process's memory and CPU from /proc (the benchmark's worker processes), so a worker's
 * peak RSS is its own and not the benchmark's.
 *
 * @example
 *   await processUsage(worker.child.pid!)
 *   // => { rssMiB: 412, rssPeakMiB: 655, cpuMs: 18_230 }
 */
export async function processUsage(pid: number): Promise<ProcessUsage> {
  const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: Math.round(kib('VmRSS') / 1024), rssPeakMiB: Math.round(kib('VmHWM') / 1024), cpuMs: Math.round((ticks * 1000) / TICKS_PER_SECOND) };
}
