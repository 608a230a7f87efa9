import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { REPO_ROOT } from './stack/index.ts';

export const TEST_DIR = join(REPO_ROOT, 'test');

/** Every `*.test.ts` under `dir`, as repo-relative paths, sorted. */
export function findTestFiles(dir: string = TEST_DIR): string[] {
  const found: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(relative(REPO_ROOT, path));
    }
  };
  walk(dir);
  return found.sort();
}

/** The line that marks a pure test file: one that needs none of the stack's services. */
export const NO_STACK_MARKER = '// granary-test: no-stack';

/**
 * Whether a test file needs the local stack (Redis, PostgreSQL, MinIO, Temporal). Every file
 * does unless one of its leading comment lines, before its first import or statement, is exactly
 * NO_STACK_MARKER: a file says so itself, where a reader sees it, and a new file needs the stack
 * until someone has checked that it does not (the safe default). A pure file that starts a
 * server of its own (Temporal's time-skipping test server, say) is still marked: the marker
 * says only that the shared stack is not needed.
 *
 * @example
 *   needsStack('test/definitions/check-value.test.ts') // => false: its first line is the marker
 *   needsStack('test/online/monotonic-write.test.ts')  // => true
 */
export function needsStack(file: string): boolean {
  for (const line of readFileSync(resolve(REPO_ROOT, file), 'utf8').split('\n')) {
    const text = line.trim();
    if (text === NO_STACK_MARKER) return false;
    const comment = text === '' || text.startsWith('//') || text.startsWith('/*') || text.startsWith('*');
    if (!comment) return true;
  }
  return true;
}
