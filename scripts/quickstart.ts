/**
 * `npm run quickstart`: the life of a feature, end to end, on local defaults. Starts the local
 * stack (installing what is missing), then for the two example feature repos: apply the
 * definitions, list them, ingest sample data (Parquet for fraud, CSV for attrition) through the
 * ingestion workflow, materialize, and verify that online equals offline. Then, on the fraud
 * example: access control (a consumer and its token for the fraud model; the recommendation
 * model refused with a 403 until it is granted), serve a feature service over HTTP, build a training set from a label file, and
 * recover from a disaster: its online data is deleted from Redis, verify sees it, and a rebuild
 * from the offline store brings it back into a new generation. Last, a breaking change: a new
 * version of user_spend_features (two features renamed, one retyped) is applied and migrated
 * (backfill, materialize, verify, switch, deprecate), in a working copy of the fraud repo with a
 * project of its own, so the example project keeps version 1 for every other step.
 * Every step is the real `granary` CLI, printed before it runs. Running it again is safe: the
 * same sample data is a no-op, each run rebuilds into the next generation, and a migration
 * completed by an earlier run is reported as such.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { onlineTarget } from '../pipelines/registered-view.ts';
import { sampleEmployeeRows } from '../definitions/examples/attrition/sample-data.ts';
import { sampleFraudLabelRows, sampleUserSpendRows } from '../definitions/examples/fraud/sample-data.ts';
import { findView, loadFeatureRepo } from '../definitions/feature-repo.ts';
import { FeatureStore } from '../sdk/feature-store.ts';
import { toViewTable } from '../ingest/batch-validation.ts';
import { createOfflineStore } from '../stores/offline/create-offline-store.ts';
import { describeOfflineHome } from '../stores/offline-home.ts';
import { REPO_ROOT, stackEnv, stackUp } from './stack/index.ts';

const FRAUD = 'definitions/examples/fraud';
const ATTRITION = 'definitions/examples/attrition';
const REPOS = [FRAUD, ATTRITION];
const DATA_DIR = join(REPO_ROOT, '.granary', 'quickstart');
const FRAUD_SERVICE = 'fraud_model_v1';
/** Users of the fraud sample data, read online in steps 6 and 9. */
const SERVED_USERS = ['u00001', 'u00042', 'u00999'];
/** Step 9's working copy of the fraud repo, with a project of its own (migrated from v1 to v2 once, by the first run). */
const MIGRATION_REPO = join(DATA_DIR, 'fraud-v2');
const MIGRATION_PROJECT = 'fraud_migration';
const MIGRATED_VIEW = 'user_spend_features';
/** Between the switch and removing version 1's online keys: long enough for the reads shown after the switch. */
const GRACE = '20s';
/** Step 6's consumers: the fraud model reads its service; the recommendation model is refused until granted. */
const FRAUD_CONSUMER = 'fraud_model';
const RECOMMENDATION_CONSUMER = 'recommendation_model';

async function main(): Promise<void> {
  step('1. Start the local stack (Redis, PostgreSQL, MinIO, Temporal), installing what is missing');
  await stackUp();
  Object.assign(process.env, stackEnv());

  step('2. Apply the example definitions to the registry, and list them');
  for (const repo of REPOS) {
    await granary(['apply', '--repo', repo]);
    await granary(['list', '--repo', repo]);
  }
  await granary(['describe', 'user_spend_features', '--repo', FRAUD]);
  console.log(
    `\nThe first apply recorded where each project's offline data lives (Parquet on S3, here the stack's MinIO): ` +
      `${await recordedOfflineHome(FRAUD)}.\nA process configured with another offline store (a second checkout, a worker's local disk) is refused.`,
  );

  step('3. Start a worker (in production: `granary worker` on as many machines as you like)');
  const worker = await startGranary(['worker'], 'worker ready', { quiet: true });
  console.log('worker ready');

  try {
    step('4. Ingest sample data: validated, written offline, committed, then materialized online');
    const now = new Date();
    const files = await writeSampleFiles(now);
    await granary(['ingest', 'user_spend_features', files.fraud, '--repo', FRAUD]);
    await granary(['ingest', 'employee_features', files.attrition, '--repo', ATTRITION]);
    console.log('\nThe same file again is a no-op (its batch id is a hash of its rows):');
    await granary(['ingest', 'employee_features', files.attrition, '--repo', ATTRITION]);

    step('5. Materialize (incremental: only commits past the watermark) and verify online = offline');
    for (const repo of REPOS) {
      await granary(['materialize', '--repo', repo]);
      await granary(['verify', '--repo', repo]);
    }

    step(`6. Serve: consumers and tokens, then the feature server answers ${FRAUD_SERVICE} over HTTP, in milliseconds, from Redis, to whom it is granted`);
    await serveOnline();

    step('7. A training set: point-in-time-correct features for each row of a label file, from the offline store');
    const labels = await writeLabelFile(now);
    console.log(
      `${labels.rows} labels (user_id, event_timestamp, is_fraud) in ${labels.file}. Each row gets the features as they were at its time,\n` +
        "never later ones: a label before the user's first daily aggregate gets nulls.",
    );
    await granary(['historical', '--entities', labels.file, '--service', FRAUD_SERVICE, '--out', display(join(DATA_DIR, 'train.parquet')), '--head', '5', '--repo', FRAUD]);

    step('8. Disaster recovery: Redis loses the fraud features; verify sees it, a rebuild from the offline store restores them');
    await recoverFromRedisLoss();

    step(`9. A breaking change: ${MIGRATED_VIEW} version 2 (features renamed, one retyped), applied and migrated while version 1 keeps serving`);
    await migrateToNewVersion(files.fraud);
  } finally {
    worker.kill('SIGTERM');
  }
  step('Done');
  console.log('The stack keeps running; stop it with: npm run stack -- down');
}

/**
 * Step 6: a consumer and its token for the fraud model, granted its service; `granary serve` on a
 * free port; one HTTP request with that token; the recommendation model's token refused (403)
 * until it is granted, with an approval recorded; the same read from the CLI; a graceful stop.
 */
async function serveOnline(): Promise<void> {
  console.log('Every read names a consumer by its token, and reads only what it is granted (nothing by default):');
  const fraudToken = await consumerToken(FRAUD_CONSUMER, 'the fraud scoring service');
  await granary(['access', 'grant', FRAUD_CONSUMER, `fraud:${FRAUD_SERVICE}`, '--repo', FRAUD]);
  // The CLI and the SDK read as this consumer from here on (historical in step 7, get-online-features).
  process.env.GRANARY_TOKEN = fraudToken;
  const recommendationToken = await consumerToken(RECOMMENDATION_CONSUMER, 'the recommendation model');
  const earlier = (await granaryJson(['access', 'list', '--consumer', RECOMMENDATION_CONSUMER, '--json', '--repo', FRAUD])) as { project: string; name: string }[];
  if (earlier.some((g) => g.project === 'fraud' && g.name === FRAUD_SERVICE)) {
    console.log('(an earlier run granted it the fraud features: revoked, to show the refusal again)');
    await granary(['access', 'revoke', RECOMMENDATION_CONSUMER, `fraud:${FRAUD_SERVICE}`, '--repo', FRAUD]);
  }
  const server = await startGranary(['serve', '--port', '0', '--repo', FRAUD], 'serving project');
  try {
    const url = /on (http:\/\/\S+)/.exec(server.output())?.[1];
    if (!url) throw new Error(`granary serve printed no URL:\n${server.output()}`);
    const body = JSON.stringify({ feature_service: FRAUD_SERVICE, entities: { user_id: SERVED_USERS } });
    const post = async (token: string, who: string, shown = true): Promise<{ status: number; text: string }> => {
      if (shown) console.log(`\n$ curl -s ${url}/get-online-features -H "Authorization: Bearer $${who}" -d '${body}'`);
      const response = await fetch(`${url}/get-online-features`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      return { status: response.status, text: await response.text() };
    };
    const served = await post(fraudToken, 'FRAUD_MODEL_TOKEN');
    if (served.status !== 200) throw new Error(`POST /get-online-features answered ${served.status}: ${served.text}`);
    console.log(compactFeastResponse(JSON.parse(served.text) as FeastResponse));

    console.log(`\nThe recommendation model asks for the fraud model's features; it was granted nothing:`);
    const refused = await post(recommendationToken, 'RECOMMENDATION_MODEL_TOKEN');
    if (refused.status !== 403) throw new Error(`the recommendation model was answered ${refused.status}, not 403: ${refused.text}`);
    console.log(`HTTP 403 ${refused.text}`);
    console.log('\nThe fraud team approves; the grant reaches the running server within a second or two:');
    await granary(['access', 'grant', RECOMMENDATION_CONSUMER, `fraud:${FRAUD_SERVICE}`, '--approved-by', 'fraud-team@example.com', '--repo', FRAUD]);
    const started = Date.now();
    let granted = await post(recommendationToken, 'RECOMMENDATION_MODEL_TOKEN');
    while (granted.status === 403 && Date.now() - started < 3000) {
      await new Promise((r) => setTimeout(r, 200));
      granted = await post(recommendationToken, 'RECOMMENDATION_MODEL_TOKEN', false);
    }
    if (granted.status !== 200) throw new Error(`after the grant the recommendation model was answered ${granted.status}: ${granted.text}`);
    console.log(`HTTP 200 (${Date.now() - started} ms after the grant): ${granted.text.length} bytes of features`);
    await granary(['access', 'list', '--repo', FRAUD]);
  } finally {
    console.log('\nStopping the server (SIGTERM: in-flight requests finish first):');
    await server.stop();
  }
  console.log('\nThe same read from a terminal, through the SDK:');
  await granary(['get-online-features', '--service', FRAUD_SERVICE, '--entities', JSON.stringify({ user_id: SERVED_USERS }), '--repo', FRAUD]);
}

/**
 * A new token for the consumer, printed by the CLI: `access consumer create`, or on a later run
 * (the consumer exists) `access consumer rotate --grace 0s`, which ends its older tokens at once.
 */
async function consumerToken(name: string, description: string): Promise<string> {
  const listed = (await granaryJson(['access', 'consumer', 'list', '--json', '--repo', FRAUD])) as { name: string; revokedAt: string | null }[];
  const existing = listed.find((c) => c.name === name && c.revokedAt === null);
  const args = existing ? ['access', 'consumer', 'rotate', name, '--grace', '0s'] : ['access', 'consumer', 'create', name, '--description', description];
  console.log(`$ granary ${args.map(quote).join(' ')}`);
  const { token } = (await granaryJson([...args, '--json', '--repo', FRAUD])) as { token: string };
  console.log(`consumer '${name}': its token, printed once by the command (shortened here): ${token.slice(0, 12)}…`);
  return token;
}

/** Runs the CLI with --json; its output parsed, not shown. */
function granaryJson(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/granary.mjs', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`granary ${args.join(' ')} exited with code ${code}`))));
  });
}

/** Step 8, on the fraud example (the attrition one would go the same way). */
async function recoverFromRedisLoss(): Promise<void> {
  console.log(
    "Simulating the loss: every key of project 'fraud' is deleted from Redis, with the online store's own dropGeneration.\n" +
      "Not FLUSHALL: this Redis is the shared local stack, and other projects' keys must survive.",
  );
  await dropOnlineData(FRAUD);

  console.log('\nverify compares Redis with the offline store, entity by entity (exit code 1 on divergence):');
  const code = await granary(['verify', '--repo', FRAUD], { expectFailure: true });
  console.log(code === 0 ? '(no divergence: unexpected after the loss)' : `(exit code ${code}, as expected: Redis lost the data)`);

  console.log(
    '\nstatus shows the active generation LOST (its marker is gone from Redis); the next materialization\n' +
      'would notice it too and start a rebuild by itself. Here we start it:',
  );
  await granary(['status', '--repo', FRAUD]);

  console.log(
    '\nRebuild: from the committed offline data into a new generation, verified, then an atomic cut-over.\n' +
      '(--retire-after 0: the old generation is lost anyway, there is nothing to keep for readers.)',
  );
  await granary(['rebuild-online', '--wait', '--retire-after', '0', '--repo', FRAUD]);

  console.log('\nOnline = offline again, in the new generation:');
  await granary(['verify', '--repo', FRAUD]);
  await granary(['status', '--repo', FRAUD]);
}

/**
 * Step 9. apply refuses a breaking change to a version in place, so version 2 is declared beside
 * version 1 with `migrateFrom`; apply registers it as migrating (nothing changes for readers),
 * and `granary migrate` backfills it from version 1, materializes, verifies, switches the
 * unpinned feature services and deprecates version 1, whose online keys go after --grace.
 *
 * It runs in a copy of the fraud repo under .granary/quickstart with its own project: applying
 * the example repo (version 1 only) to a project holding version 2 would remove version 2, and
 * step 2 applies it on every run. The copy's fraud_model_v1 names the view without a version
 * (the example pins version 1 by passing the view object), so the migration moves it to v2.
 * A later run finds version 2 registered: it skips applying version 1 and ingesting into it
 * (a completed migration's old version takes no more writes), and shows the same commands:
 * plan has nothing to change, and migrate reports that the migration completed before.
 */
async function migrateToNewVersion(sampleFile: string): Promise<void> {
  const repo = display(MIGRATION_REPO);
  const v2File = join(MIGRATION_REPO, 'user-spend-v2.ts');
  await writeMigrationRepoV1();
  const earlier = await migrationState();
  if (earlier.v2Status === undefined) {
    await rm(v2File, { force: true });
    console.log(
      `A copy of ${FRAUD} in ${repo}, as project '${MIGRATION_PROJECT}' (the example project 'fraud' keeps version 1 for\n` +
        'the other steps). First version 1 alone, with the sample data of step 4:',
    );
    await granary(['apply', '--repo', repo]);
    await granary(['ingest', MIGRATED_VIEW, sampleFile, '--repo', repo]);
  } else {
    console.log(
      `${repo} (project '${MIGRATION_PROJECT}') has version 2 registered since an earlier run (${earlier.v2Status}` +
        `${earlier.migration ? `, migration ${earlier.migration}` : ''}): applying version 1 alone\n` +
        `would remove it, so this run goes straight to version 2; the commands below ${earlier.migration === 'completed' ? 'find their work done' : 'carry on from what exists'}.`,
    );
  }

  await writeFile(v2File, USER_SPEND_V2);
  console.log(`\nThe breaking change, declared as a new version beside the old one (${display(v2File)}):\n`);
  console.log(USER_SPEND_V2.replace(/^(?=.)/gm, '    '));

  console.log('plan shows version 2 as a new object (exit code 2: changes that apply cleanly; 0: nothing to change):');
  const planned = await granary(['plan', '--repo', repo], { exitCodes: [0, 2] });
  console.log(planned === 2 ? '(exit code 2, as expected: version 2 is new)' : '(exit code 0: version 2 was applied by an earlier run)');
  console.log('\napply registers version 2 as migrating: readers, writers and materialize still use version 1.');
  await granary(['apply', '--repo', repo]);

  console.log(
    '\nmigrate: backfill version 2 from version 1, materialize it, verify online = offline, switch the feature services,\n' +
      `deprecate version 1. Its online keys stay for the grace period (${GRACE} here, 24h by default), for a rollback.`,
  );
  await granary(['migrate', MIGRATED_VIEW, '--grace', GRACE, '--repo', repo]);

  console.log(`\n${FRAUD_SERVICE} now reads version 2: the renamed features, the same values.`);
  await granary(['access', 'grant', FRAUD_CONSUMER, `${MIGRATION_PROJECT}:${FRAUD_SERVICE}`, '--repo', repo]);
  await granary(['get-online-features', '--service', FRAUD_SERVICE, '--entities', JSON.stringify({ user_id: SERVED_USERS }), '--repo', repo]);
  await granary(['list', 'view', '--repo', repo]);
  await granary(['describe', MIGRATED_VIEW, '--repo', repo]);

  console.log(
    '\nThe same command again attaches to the running migration (its workflow id is derived from the view and versions),\n' +
      "or reports it completed; --until-done follows it through the grace period, until version 1's online keys are removed:",
  );
  await granary(['migrate', MIGRATED_VIEW, '--grace', GRACE, '--until-done', '--repo', repo]);
  await granary(['migrate', MIGRATED_VIEW, '--status', '--repo', repo]);
}

/** Version 2 of the view in step 9's copy of the fraud repo. */
const USER_SPEND_V2 = `import { featureView } from 'granary';
import { transactions, user } from './features.ts';

/**
 * Version 2 of user_spend_features, a breaking change: the averages are renamed means, and the
 * 7-day transaction count is an int32. Version 1 stays declared (features.ts) while it is migrated.
 */
export const userSpendFeaturesV2 = featureView({
  name: 'user_spend_features',
  version: 2,
  entities: [user],
  source: transactions,
  schema: [
    { name: 'spend_7d_mean', type: 'float32', description: 'Mean daily spend over the last 7 days.' },
    { name: 'spend_30d_mean', type: 'float32', description: 'Mean daily spend over the last 30 days.' },
    { name: 'txn_count_7d', type: 'int32', description: 'Transactions in the last 7 days.' },
    { name: 'spend_velocity', type: 'float32', description: '7-day mean over 30-day mean.' },
  ],
  ttl: '1d',
  owner: 'fraud-team@example.com',
  description: 'Spend behaviour of each user, the core signal of the fraud model.',
  tags: { team: 'fraud', tier: 'gold' },
  migrateFrom: {
    version: 1,
    rename: { spend_7d_avg: 'spend_7d_mean', spend_30d_avg: 'spend_30d_mean' },
    cast: { txn_count_7d: 'int32' },
  },
});
`;

/**
 * Step 9's copy of the fraud repo as it is before the change: its granary.yaml names its own
 * project, and fraud_model_v1 reads the view by name (unpinned) instead of the view object.
 * Inside this package, `import ... from 'granary'` resolves to it wherever the copy is.
 */
async function writeMigrationRepoV1(): Promise<void> {
  await mkdir(MIGRATION_REPO, { recursive: true });
  const pinned = 'features: [userSpendFeatures],';
  const original = await readFile(join(REPO_ROOT, FRAUD, 'features.ts'), 'utf8');
  if (!original.includes(pinned)) throw new Error(`${FRAUD}/features.ts no longer has '${pinned}': update step 9 of scripts/quickstart.ts`);
  const features = original.replace(pinned, `features: ['${MIGRATED_VIEW}'], // unpinned: the view's current version`);
  await writeFile(
    join(MIGRATION_REPO, 'features.ts'),
    `// Written by scripts/quickstart.ts (step 9) from ${FRAUD}/features.ts; only fraud_model_v1 differs.\n${features}`,
  );
  await writeFile(
    join(MIGRATION_REPO, 'granary.yaml'),
    `# Written by scripts/quickstart.ts (step 9): the fraud example under a project of its own, so\n` +
      `# migrating it to user_spend_features version 2 leaves the example project 'fraud' on version 1.\nproject: ${MIGRATION_PROJECT}\n`,
  );
}

/** What an earlier run left in step 9's project: version 2's status and its migration's state, if any. */
async function migrationState(): Promise<{ v2Status?: string; migration?: string }> {
  const store = await FeatureStore.open({ repoDir: MIGRATION_REPO });
  try {
    const registry = store.stores.registry();
    const v2 = (await registry.listObjects('featureView')).find((o) => o.name === MIGRATED_VIEW && o.version === 2);
    const migration = (await registry.migrations({ view: MIGRATED_VIEW, from: 1, to: 2 })).at(-1);
    return { ...(v2 ? { v2Status: v2.status } : {}), ...(migration ? { migration: migration.state } : {}) };
  } finally {
    await store.close();
  }
}

/** Where the registry says the repo's project keeps its offline data. */
async function recordedOfflineHome(repo: string): Promise<string> {
  const store = await FeatureStore.open({ repoDir: join(REPO_ROOT, repo) });
  try {
    const home = await store.stores.registry().offlineHome();
    if (!home) throw new Error(`project '${store.project}' has no offline home recorded after its apply`);
    return describeOfflineHome(home);
  } finally {
    await store.close();
  }
}

/** Deletes every generation of the repo's online views from Redis, marker included (not FLUSHALL: other projects share this Redis). */
async function dropOnlineData(repo: string): Promise<void> {
  const store = await FeatureStore.open({ repoDir: join(REPO_ROOT, repo) });
  try {
    const registry = store.stores.registry();
    for (const view of await store.onlineViews()) {
      for (const { generation, state } of await registry.generations(view.name, view.version)) {
        if (state === 'dropped') continue;
        const ref = { project: store.project, view: view.name, version: view.version };
        const keys = await store.stores.online.dropGeneration(onlineTarget(ref, view, generation));
        console.log(`  ${store.project}: ${view.name} v${view.version}, generation ${generation} (${state}): ${keys} keys deleted`);
      }
    }
  } finally {
    await store.close();
  }
}

/** Sample data as a user would have it: a Parquet file for fraud, a CSV file for attrition. */
async function writeSampleFiles(now: Date): Promise<{ fraud: string; attrition: string }> {
  await mkdir(DATA_DIR, { recursive: true });
  const fraudRepo = await loadFeatureRepo(FRAUD);
  const table = toViewTable(findView(fraudRepo, 'user_spend_features')!, sampleUserSpendRows({ now, users: 1000, days: 3 }));
  const files = createOfflineStore({ kind: 'local', path: DATA_DIR });
  await files.writeTable('user_spend.parquet', table);
  await files.close();

  await writeFile(join(DATA_DIR, 'employees.csv'), toCsv(sampleEmployeeRows({ now, employees: 500, weeks: 4 })));
  return { fraud: display(join(DATA_DIR, 'user_spend.parquet')), attrition: display(join(DATA_DIR, 'employees.csv')) };
}

/** The fraud model's labels over the same days as its sample data (definitions/examples/fraud/sample-data.ts). */
async function writeLabelFile(now: Date): Promise<{ file: string; rows: number }> {
  const rows = sampleFraudLabelRows({ now, users: 100, days: 3, perUser: 3 });
  await writeFile(join(DATA_DIR, 'labels.csv'), toCsv(rows));
  return { file: display(join(DATA_DIR, 'labels.csv')), rows: rows.length };
}

function toCsv<Row extends object>(rows: readonly Row[]): string {
  const columns = Object.keys(rows[0]!) as (keyof Row)[];
  const cell = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value));
  return [columns.join(','), ...rows.map((row) => columns.map((c) => cell(row[c])).join(','))].join('\n') + '\n';
}

interface FeastResponse {
  readonly metadata: { readonly feature_names: readonly string[] };
  readonly results: readonly unknown[];
}

/** Feast's column-oriented response as JSON, one feature (or join key) a line. */
function compactFeastResponse(response: FeastResponse): string {
  const results = response.results.map((r) => `    ${JSON.stringify(r)}`).join(',\n');
  return `{\n  "metadata": ${JSON.stringify(response.metadata)},\n  "results": [\n${results}\n  ]\n}`;
}

/** A path as short as it can be for the commands shown: they run in the repo root. */
function display(path: string): string {
  return relative(REPO_ROOT, path);
}

function step(title: string): void {
  console.log(`\n=== ${title}\n`);
}

/**
 * Runs the CLI, its output shown; resolves with the exit code, which must be 0 (or one of
 * `exitCodes`) unless a failure is expected.
 */
function granary(args: string[], options: { expectFailure?: boolean; exitCodes?: readonly number[] } = {}): Promise<number> {
  console.log(`$ granary ${args.map(quote).join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/granary.mjs', ...args], { cwd: REPO_ROOT, stdio: 'inherit', env: process.env });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 || (code !== null && (options.expectFailure || options.exitCodes?.includes(code)))) resolve(code);
      else reject(new Error(`granary ${args.join(' ')} exited with ${code === null ? `signal ${signal}` : `code ${code}`}`));
    });
  });
}

interface LongRunning {
  /** What it printed so far. */
  output(): string;
  /** SIGTERM, then waits for it to exit (code 0 expected). */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts a long-running `granary` command (worker, serve) and resolves once its output holds
 * `readyLine`. Its output is echoed, indented, unless quiet.
 */
function startGranary(args: string[], readyLine: string, options: { quiet?: boolean } = {}): Promise<LongRunning> {
  if (!options.quiet) console.log(`$ granary ${args.map(quote).join(' ')} &`);
  const child: ChildProcess = spawn(process.execPath, ['bin/granary.mjs', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise<LongRunning>((resolve, reject) => {
    let ready = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (!options.quiet) process.stdout.write(String(d).replace(/^(?=.)/gm, '  '));
      if (!ready && out.includes(readyLine)) {
        ready = true;
        resolve({
          output: () => out,
          kill: (signal) => child.kill(signal),
          async stop() {
            child.kill('SIGTERM');
            const code = await exited;
            if (code !== 0) throw new Error(`granary ${args.join(' ')} exited with code ${code} after SIGTERM`);
          },
        });
      }
    });
    child.on('error', reject);
    void exited.then((code) => {
      if (!ready) reject(new Error(`granary ${args.join(' ')} exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** Shell quoting for the commands shown, so they can be pasted. */
function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

main().catch((error: unknown) => {
  console.error(`quickstart failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
