import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/granary.mjs', import.meta.url));

/** A `granary serve` process started by a test, once it prints the URL it listens on. */
export interface ServeProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** The URL from its "on http(s)://..." line. */
  readonly url: string;
  /** Everything it printed so far, stdout then stderr as they came. */
  output(): string;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts `granary serve <args>` with `env` (the test runner's NODE_TEST_CONTEXT left out, so the
 * child is not taken for a test file) and waits for its URL; rejects with what it printed when
 * no URL came within `timeoutMs`.
 *
 * @example
 *   const server = await startServe(['--port', '0'], { ...process.env, ...fixture.env });
 *   await fetch(`${server.url}/health`); server.child.kill('SIGTERM');
 */
export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv, options: { readonly timeoutMs?: number } = {}): Promise<ServeProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), options.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before it listened: ${output}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
      const match = /on (https?:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { child, url, output: () => output, stdout: () => stdout, stderr: () => stderr };
}
