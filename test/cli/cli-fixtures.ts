import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Runs `node bin/granary.mjs` as a child process against throwaway feature repos. */
const BIN = fileURLToPath(new URL('../../bin/granary.mjs', import.meta.url));
const DEFINITIONS = pathToFileURL(fileURLToPath(new URL('../../definitions/index.ts', import.meta.url))).href;

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function uniqueProject(label: string): string {
  return `test_cli_${label}_${randomBytes(5).toString('hex')}`;
}

export function granary(args: readonly string[], options: { project: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.GRANARY_DEBUG;
  delete env.NODE_TEST_CONTEXT;
  Object.assign(env, { GRANARY_PROJECT: options.project }, options.env);
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: options.cwd ?? tmpdir(), env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RepoShape {
  /** The view's schema, as featureView options. */
  readonly features?: readonly { name: string; type: string; nullable?: boolean }[];
  readonly ttl?: string;
  /** Extra source text appended to features.ts. */
  readonly extra?: string;
}

export const DEFAULT_FEATURES = [
  { name: 'spend_7d_avg', type: 'float32' },
  { name: 'txn_count_7d', type: 'int64' },
];

/** A feature repo in a temp folder: user, transactions, user_spend (v1) and fraud_model; `write` rewrites it. */
export async function makeRepo(): Promise<{ dir: string; write: (shape?: RepoShape) => Promise<void>; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'granary-cli-'));
  const write = async (shape: RepoShape = {}): Promise<void> => {
    const source = `import { entity, featureService, featureView, parquetSource } from ${JSON.stringify(DEFINITIONS)};

export const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string', description: 'A card holder.' });

export const transactions = parquetSource({ name: 'transactions', path: 'data/transactions' });

export const userSpend = featureView({
  name: 'user_spend',
  entities: [user],
  source: transactions,
  schema: ${JSON.stringify(shape.features ?? DEFAULT_FEATURES)},
  ttl: ${JSON.stringify(shape.ttl ?? '1d')},
  owner: 'fraud@example.com',
  description: 'Spend per user.',
  tags: { team: 'fraud' },
});

export const fraudModel = featureService({ name: 'fraud_model', features: [userSpend] });
${shape.extra ?? ''}`;
    await writeFile(join(dir, 'features.ts'), source);
  };
  // Definition files are ES modules: outside a "type": "module" package, tsx would load them as CommonJS.
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await write();
  return { dir, write, remove: () => rm(dir, { recursive: true, force: true }) };
}
