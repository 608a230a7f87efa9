/**
 * `npm run quickstart`: the life of a feature, end to end, on local defaults. Starts the local
 * stack (installing what is missing), then for the two example feature repos: apply the
 * definitions, list them, ingest sample data (Parquet for fraud, CSV for attrition) through the
 * ingestion workflow, materialize, and verify that online equals offline.
 * Every step is the real `granary` CLI, printed before it runs.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sampleEmployeeRows } from '../definitions/examples/attrition/sample-data.ts';
import { sampleUserSpendRows } from '../definitions/examples/fraud/sample-data.ts';
import { findView, loadFeatureRepo } from '../definitions/feature-repo.ts';
import { toViewTable } from '../stores/offline/batch-validation.ts';
import { createOfflineStore } from '../stores/offline/create-offline-store.ts';
import { REPO_ROOT, stackEnv, stackUp } from './stack.ts';

const FRAUD = 'definitions/examples/fraud';
const ATTRITION = 'definitions/examples/attrition';
const DATA_DIR = join(REPO_ROOT, '.granary', 'quickstart');

async function main(): Promise<void> {
  step('1. Start the local stack (Redis, PostgreSQL, MinIO, Temporal), installing what is missing');
  await stackUp();
  Object.assign(process.env, stackEnv());

  step('2. Apply the example definitions to the registry, and list them');
  for (const repo of [FRAUD, ATTRITION]) {
    await granary(['apply', '--repo', repo]);
    await granary(['list', '--repo', repo]);
  }
  await granary(['describe', 'user_spend_features', '--repo', FRAUD]);

  step('3. Start a worker (in production: `granary worker` on as many machines as you like)');
  const worker = spawn(process.execPath, ['bin/granary.mjs', 'worker'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    worker.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('worker ready')) resolve();
    });
    worker.on('exit', (code) => reject(new Error(`the worker exited (${code}) before it was ready:\n${out}`)));
  });
  console.log('worker ready');

  try {
    step('4. Ingest sample data: validated, written offline, committed, then materialized online');
    const files = await writeSampleFiles();
    await granary(['ingest', 'user_spend_features', files.fraud, '--repo', FRAUD]);
    await granary(['ingest', 'employee_features', files.attrition, '--repo', ATTRITION]);
    console.log('\nThe same file again is a no-op (its batch id is a hash of its rows):');
    await granary(['ingest', 'employee_features', files.attrition, '--repo', ATTRITION]);

    step('5. Materialize (incremental: only commits past the watermark) and verify online = offline');
    for (const repo of [FRAUD, ATTRITION]) {
      await granary(['materialize', '--repo', repo]);
      await granary(['verify', '--repo', repo]);
    }
  } finally {
    worker.kill('SIGTERM');
  }
  step('Done');
  console.log('The stack keeps running; stop it with: npm run stack -- down');
}

/** Sample data as a user would have it: a Parquet file for fraud, a CSV file for attrition. */
async function writeSampleFiles(): Promise<{ fraud: string; attrition: string }> {
  await mkdir(DATA_DIR, { recursive: true });
  const now = new Date();
  const fraudRepo = await loadFeatureRepo(FRAUD);
  const table = toViewTable(findView(fraudRepo, 'user_spend_features')!, sampleUserSpendRows({ now, users: 1000, days: 3 }));
  const files = createOfflineStore({ kind: 'local', path: DATA_DIR });
  await files.writeTable('user_spend.parquet', table);
  await files.close();

  const employees = sampleEmployeeRows({ now, employees: 500, weeks: 4 });
  const columns = Object.keys(employees[0]!) as (keyof (typeof employees)[number])[];
  const csv = [
    columns.join(','),
    ...employees.map((row) => columns.map((c) => (row[c] instanceof Date ? (row[c] as Date).toISOString() : String(row[c]))).join(',')),
  ].join('\n');
  await writeFile(join(DATA_DIR, 'employees.csv'), `${csv}\n`);
  return { fraud: join(DATA_DIR, 'user_spend.parquet'), attrition: join(DATA_DIR, 'employees.csv') };
}

function step(title: string): void {
  console.log(`\n=== ${title}\n`);
}

function granary(args: string[]): Promise<void> {
  console.log(`$ granary ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/granary.mjs', ...args], { cwd: REPO_ROOT, stdio: 'inherit', env: process.env });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`granary ${args.join(' ')} exited with code ${code}`))));
  });
}

main().catch((error: unknown) => {
  console.error(`quickstart failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
