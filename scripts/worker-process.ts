import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../workers/granary-worker.ts';

/**
 * A Granary worker in its own process (`granary worker`), so fault tests can SIGKILL it for
 * real. The workflow bundle is built once per test file and shared through a file.
 */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything the worker printed. */
  output(): string;
  /** Resolves with the signal or exit code when the process ends. */
  readonly exited: Promise<NodeJS.Signals | number | null>;
  kill(signal?: NodeJS.Signals): Promise<NodeJS.Signals | number | null>;
}

let bundlePath: Promise<string> | undefined;

export function workflowBundlePath(): Promise<string> {
  bundlePath ??= (async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
    const dir = join(process.cwd(), '.granary', 'tmp');
    await mkdir(dir, { recursive: true });
    const path = join(dir, `workflow-bundle-${process.pid}.js`);
    await writeFile(path, code);
    return path;
  })();
  return bundlePath;
}

export async function startWorkerProcess(env: Record<string, string>, args: readonly string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['bin/granary.mjs', 'worker', ...args], {
    env: { ...process.env, ...env, GRANARY_WORKFLOW_BUNDLE: await workflowBundlePath() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const deadline = Date.now() + 60_000;
  while (!/worker ready/.test(output)) {
    const ended = await Promise.race([exited.then(() => true), sleep(100).then(() => false)]);
    if (ended || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker did not start:\n${output}`);
    }
  }
  return {
    child,
    output: () => output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};
