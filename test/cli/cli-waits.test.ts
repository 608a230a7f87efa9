import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectClient } from '../../workers/temporal-connection.ts';
import { testConfig } from '../support/test-config.ts';
import { startWorkerProcess, type WorkerProcess } from '../../scripts/worker-process.ts';
import { DEFAULT_FEATURES, granary, makeRepo } from './cli-fixtures.ts';

/**
 * The CLI's commands that wait on workflows (issue 12, items 7 and 9, and the worker's smaller
 * items), against the real stack: with no worker polling the task queue they say so within
 * seconds and stop after the worker timeout; with --json their stdout is one JSON document; a
 * worker whose stdout and stderr were closed keeps working; the worker's default log level
 * shows its activities' progress lines.
 */
const { config, env } = testConfig('cli_waits', { GRANARY_LOG_LEVEL: '' });
const project = config.project;
/** A task queue no worker ever polls. */
const orphanQueue = `${env.GRANARY_TASK_QUEUE}-nobody`;
let repo: Awaited<ReturnType<typeof makeRepo>>;
const workers: WorkerProcess[] = [];

const V2 = `
export const userSpendV2 = featureView({
  name: 'user_spend', version: 2, entities: [user], source: transactions, ttl: '1d',
  schema: ${JSON.stringify(DEFAULT_FEATURES)},
  migrateFrom: { version: 1 },
});
`;

function run(args: readonly string[], extraEnv: Record<string, string> = {}) {
  return granary([...args, '--repo', repo.dir], { project, env: { ...env, ...extraEnv } });
}

async function csv(name: string, rows: number, salt: number): Promise<string> {
  const now = Date.now();
  const lines = ['user_id,event_timestamp,spend_7d_avg,txn_count_7d'];
  for (let i = 0; i < rows; i++) lines.push(`u${i},${new Date(now - 3_600_000 + i * 1000 + salt).toISOString()},${(i + salt) / 4},${i + salt}`);
  const file = join(repo.dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

before(async () => {
  repo = await makeRepo();
  await repo.write({ extra: V2 });
  const apply = await run(['apply']);
  assert.equal(apply.code, 0, apply.stderr);
});

after(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await endOrphans();
  await repo.remove();
});

/** The workflows started on the orphan queue would wait forever (and hold their ids): end them. */
async function endOrphans(): Promise<void> {
  const client = await connectClient(config.temporal);
  try {
    for await (const w of client.workflow.list({ query: `TaskQueue = '${orphanQueue}' AND ExecutionStatus = 'Running'` })) {
      await client.workflow.getHandle(w.workflowId, w.runId).terminate('cli-waits test over').catch(() => undefined);
    }
  } finally {
    await client.connection.close();
  }
}

test('no worker polls the task queue: each waiting command says so within seconds and stops after the worker timeout', async () => {
  const file = await csv('orphan.csv', 5, 0);
  const cases: [string[], Record<string, string>, number][] = [
    [['ingest', 'user_spend', file, '--worker-timeout', '8'], {}, 8],
    [['materialize', 'user_spend'], { GRANARY_WORKER_TIMEOUT: '6' }, 6],
    [['rebuild-online', 'user_spend', '--wait', '--worker-timeout', '6'], {}, 6],
    [['migrate', 'user_spend', '--worker-timeout', '6'], {}, 6],
  ];
  for (const [args, extraEnv, timeout] of cases) {
    const started = Date.now();
    const result = await run(args, { GRANARY_TASK_QUEUE: orphanQueue, ...extraEnv });
    const seconds = (Date.now() - started) / 1000;
    const what = args.slice(0, 2).join(' ');
    assert.equal(result.code, 1, `${what}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, new RegExp(`granary: no worker polls task queue '${orphanQueue}' \\(namespace 'default'\\); start one with: granary worker --repo <dir>`), what);
    assert.match(result.stderr, new RegExp(`^error: no worker polled task queue '${orphanQueue}' \\(namespace 'default'\\) for ${timeout} s`, 'm'), what);
    assert.ok(seconds >= timeout, `${what} stopped after ${seconds} s, before its timeout of ${timeout} s`);
    assert.ok(seconds < timeout + 20, `${what} took ${seconds} s with a worker timeout of ${timeout} s`);
    // Each started (or would attach to) a workflow whose id the next tests use: end it.
    await endOrphans();
  }
});

test('with --json, stdout is exactly one JSON document for ingest, materialize, rebuild-online --wait and migrate', async () => {
  const worker = await startWorkerProcess(env);
  workers.push(worker);
  const file = await csv('batch-1.csv', 50, 1);
  const commands = [
    ['ingest', 'user_spend', file, '--json'],
    ['materialize', '--json'],
    ['rebuild-online', 'user_spend', '--wait', '--json', '--partitions', '2', '--retire-after', '0'],
    ['migrate', 'user_spend', '--json', '--grace', '0'],
  ];
  for (const args of commands) {
    const result = await run(args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.doesNotThrow(() => JSON.parse(result.stdout), `${args.join(' ')}: stdout is not one JSON document:\n${result.stdout}`);
  }
  // The progress lines went to stderr instead.
  const materialize = await run(['materialize', '--json']);
  assert.match(materialize.stderr, /user_spend v\d: watermark \d+\/\d+/);
  // The worker's default level shows its activities' progress lines (a partition starting,
  // resuming at entity n of m after a crash), not Temporal's own INFO lines.
  assert.match(worker.output(), /partition 1\/2: starting, \d+ entities/);
  assert.doesNotMatch(worker.output(), /\[INFO\] (Worker state changed|Workflow bundle created)/);
  await worker.kill('SIGTERM');
});

test('a worker whose stdout and stderr were closed keeps working and stops cleanly', async () => {
  const worker = await startWorkerProcess(env);
  workers.push(worker);
  worker.child.stdout!.destroy();
  worker.child.stderr!.destroy();
  // Its activities log at the default level, on the closed stderr; it says "stopped" on the closed stdout.
  const ingest = await run(['ingest', 'user_spend', await csv('batch-2.csv', 20, 2), '--view-version', '2']);
  assert.equal(ingest.code, 0, ingest.stderr);
  const rebuild = await run(['rebuild-online', 'user_spend', '--wait', '--partitions', '2', '--retire-after', '0']);
  assert.equal(rebuild.code, 0, rebuild.stderr);
  assert.equal(await worker.kill('SIGTERM'), 0);
});
