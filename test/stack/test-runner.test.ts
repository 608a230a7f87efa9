// granary-test: no-stack
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { STACK_PORT_VARIABLES } from '../../config/local-stack.ts';
import { freePort } from '../../scripts/private-services.ts';
import { REPO_ROOT, stackDown, stackStatus } from '../../scripts/stack/index.ts';
import { findTestFiles, NO_STACK_MARKER, needsStack } from '../../scripts/test-files.ts';
import { tempDir } from '../support/temp-dir.ts';

test('a test file needs the stack unless a leading comment line is the marker', async () => {
  const dir = await tempDir('test-runner');
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  try {
    assert.equal(needsStack(file('first-line.test.ts', `${NO_STACK_MARKER}\nimport assert from 'node:assert';\n`)), false);
    assert.equal(needsStack(file('after-doc.test.ts', `/**\n * Pure.\n */\n\n// other words\n  ${NO_STACK_MARKER}  \nimport x from 'y';\n`)), false);
    assert.equal(needsStack(file('unmarked.test.ts', `import assert from 'node:assert';\n`)), true);
    assert.equal(needsStack(file('after-import.test.ts', `import assert from 'node:assert';\n${NO_STACK_MARKER}\n`)), true);
    assert.equal(needsStack(file('other-word.test.ts', `// granary-test: no-stack-please\nimport assert from 'node:assert';\n`)), true);
    assert.equal(needsStack(file('in-block.test.ts', `/*\n * ${NO_STACK_MARKER}\n */\nimport assert from 'node:assert';\n`)), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('this repo marks pure files and only them: the definitions are pure, the online store tests are not', () => {
  const files = findTestFiles();
  assert.ok(files.includes('test/stack/test-runner.test.ts'));
  for (const file of files.filter((f) => f.startsWith('test/definitions/'))) assert.equal(needsStack(file), false, file);
  assert.equal(needsStack('test/online/monotonic-write.test.ts'), true);
  assert.equal(needsStack('test/stack/stack.test.ts'), true);
});

test('npm test of pure files only starts no service and looks at none', { timeout: 120_000 }, async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '' };
  delete env.NODE_TEST_CONTEXT; // the runner under test runs node --test of its own
  for (const variable of Object.values(STACK_PORT_VARIABLES)) env[variable] = String(await freePort());
  const stateDir = mkdtempSync(join(REPO_ROOT, '.granary', 'stack-test-'));
  env.GRANARY_STACK_DIR = stateDir;
  const options = { env, stateDir, log: () => {} };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/test.ts', 'definitions/check-value'], { cwd: REPO_ROOT, env });
    assert.match(stdout, /^running 1 test file\(s\) without the stack/m);
    assert.doesNotMatch(stdout, /granary stack/);
    assert.match(stdout, /fail 0$/m); // and it exited 0 (execFile rejects otherwise)
    assert.deepEqual((await stackStatus(options)).map((s) => [s.running, s.startedBy]), Array(4).fill([false, null]));
  } finally {
    await stackDown(options).catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
});
