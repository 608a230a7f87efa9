/**
 * `npm test`: runs node's test runner over every `*.test.ts` file under test/ (or those whose path
 * contains one of the words given), sorted, one file at a time. When a selected file needs the
 * local stack, it first brings the stack up (scripts/stack/) and points the GRANARY_* variables
 * at it (the files share its Redis, PostgreSQL, MinIO and Temporal); when none does, the stack is
 * neither started nor looked at. A pure test file (no Redis, PostgreSQL, MinIO or Temporal
 * server of the stack) says so with the line `// granary-test: no-stack` among its leading
 * comments (scripts/test-files.ts); every other file is taken to need the stack. Exits with the
 * runner's code.
 *
 * @example
 *   npm test                      # every test file (the stack up first)
 *   npm test -- registry online   # files whose path contains 'registry' or 'online'
 *   npm test -- definitions       # pure files only: no stack started
 *   npm test -- stack --test-name-pattern=idempotent   # --flags go to node --test
 *
 * Environment: GRANARY_TEST_CONCURRENCY (files at once, default 1); under CI (CI=true) the
 * services this run started are stopped at the end, unless GRANARY_KEEP_STACK=1.
 */
import { spawn } from 'node:child_process';
import { messageOf, REPO_ROOT, stackDown, stackEnv, stackUp, StackError } from './stack/index.ts';
import { findTestFiles, NO_STACK_MARKER, needsStack } from './test-files.ts';

function runTests(files: readonly string[], nodeFlags: readonly string[]): Promise<number> {
  const concurrency = process.env.GRANARY_TEST_CONCURRENCY || '1';
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...nodeFlags, ...files];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'inherit', env: process.env });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward).on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`test: cannot run node --test: ${error.message}\n`);
      resolve(1);
    });
    child.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const filters = argv.filter((a) => !a.startsWith('-'));
  const nodeFlags = argv.filter((a) => a.startsWith('-'));
  const all = findTestFiles();
  const files = filters.length === 0 ? all : all.filter((file) => filters.some((f) => file.includes(f)));
  if (files.length === 0) {
    process.stderr.write(`test: no test file under test/ matches ${filters.map((f) => `'${f}'`).join(' or ') || 'anything'}\n`);
    return 1;
  }

  const pure = files.filter((file) => !needsStack(file)).length;
  if (pure === files.length) {
    process.stdout.write(`running ${files.length} test file(s) without the stack (each is marked '${NO_STACK_MARKER}')\n`);
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    return runTests(files, nodeFlags);
  }

  const t0 = performance.now();
  process.stdout.write('granary stack\n');
  const up = await stackUp();
  const without = pure > 0 ? `, ${pure} of them marked no-stack` : '';
  process.stdout.write(`stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s; running ${files.length} test file(s)${without}\n`);
  Object.assign(process.env, stackEnv(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

  try {
    return await runTests(files, nodeFlags);
  } finally {
    const started = up.filter((r) => r.action === 'started').map((r) => r.service);
    if (process.env.CI && process.env.CI !== 'false' && process.env.GRANARY_KEEP_STACK !== '1' && started.length > 0) {
      process.stdout.write('stopping the services this run started\n');
      await stackDown({ services: started }).catch((error: unknown) => process.stderr.write(`test: ${messageOf(error)}\n`));
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`test: ${messageOf(error)}\n`);
    if (!(error instanceof StackError) && process.env.GRANARY_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    process.exit(1);
  },
);
