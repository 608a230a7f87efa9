/**
 * Historical retrieval, Parquet in to Parquet out: 1M label rows against 2M committed feature
 * rows (200k entities, 8 features, TTL 2 days, created-timestamp ties), next to DuckDB's ASOF
 * JOIN with the created-timestamp tie-break on the same files in the same run. Prints JSON.
 *
 *   node --import tsx bench/historical.ts [--labels 1000000] [--rows 2000000] [--entities 200000] [--runs 3]
 *     [--memory-limit 1GB]   # Granary's DuckDB memory limit (past it, the join spills to disk)
 *     [--distributed 4 [--workers 2]]   # across worker processes: the historical workflow with 4 partitions
 *
 *     [--offline s3|local]   # where Granary's committed objects are (default s3: the stack's MinIO)
 *
 * Granary's time is the `granary historical` command's, run as its own process (its peak RSS is
 * that process's VmHWM, so nothing of this bench's generated data counts): checking and typing
 * the label file, listing the commits in the registry, staging the committed objects (downloaded
 * from MinIO with the AWS SDK, or symlinked from a local folder with `--offline local`), the join
 * (on DuckDB), and writing the output file. The reference is DuckDB's bare ASOF JOIN query over
 * the same rows as local Parquet files (DuckDB here cannot read s3://: its httpfs extension
 * cannot be downloaded), written to a Parquet file, in this process. The two outputs are
 * compared row for row at the end.
 *
 * With --distributed, Granary's time is `granary historical --distributed`'s: the label file put
 * in the run's scratch, the workflow (plan and split, partitions on the worker processes, merge)
 * on the stack's Temporal, the result copied out; its peak RSS is the largest of this process's
 * and each worker's (their VmHWM).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { Field, makeData, RecordBatch, Schema, Struct, Table, type Data } from 'apache-arrow';
import { loadConfig } from '../config/granary-config.ts';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../definitions/index.ts';
import { seededRandom } from '../definitions/examples/seeded-random.ts';
import type { Client } from '@temporalio/client';
import { writeTrainingSet } from '../sdk/historical-run.ts';
import { connectClient } from '../workers/temporal-connection.ts';
import { startWorkerProcess, type WorkerProcess } from '../scripts/worker-process.ts';
import { buildColumn } from '../arrow/build-column.ts';
import { encodeParquet } from '../stores/offline/encode-parquet.ts';
import { createOfflineStore } from '../stores/offline/create-offline-store.ts';
import { LocalOfflineStore } from '../stores/offline/local-offline-store.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { objectKey } from '../stores/offline/object-key.ts';
import { viewSchema } from '../arrow/view-schema.ts';
import { PostgresRegistry } from '../stores/registry/postgres-registry.ts';
import type { CommitObject } from '../stores/registry/commit-log.ts';

const { values: args } = parseArgs({
  options: {
    labels: { type: 'string', default: '1000000' },
    rows: { type: 'string', default: '2000000' },
    entities: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    commits: { type: 'string', default: '4' },
    'memory-limit': { type: 'string' },
    distributed: { type: 'string' },
    workers: { type: 'string', default: '2' },
    offline: { type: 'string', default: 's3' },
  },
});
const DISTRIBUTED = args.distributed === undefined ? null : Number(args.distributed);
const LABELS = Number(args.labels);
const ROWS = Number(args.rows);
const ENTITIES = Number(args.entities);
const RUNS = Number(args.runs);
const COMMITS = Number(args.commits);
const DAY = 86_400_000;
const BIN = fileURLToPath(new URL('../bin/granary.mjs', import.meta.url));
const T0 = Date.UTC(2024, 0, 1);
const FEATURES = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'c0', 'c1'];

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
const view = featureView({
  name: 'user_activity',
  entities: [user],
  source: parquetSource({ name: 'activity', path: 'data/activity', createdTimestampColumn: 'created_timestamp' }),
  schema: [...FEATURES.slice(0, 6).map((name) => ({ name, type: 'float64' as const })), ...FEATURES.slice(6).map((name) => ({ name, type: 'int64' as const }))],
  ttl: '2d',
});

if (args.offline !== 's3' && args.offline !== 'local') throw new RangeError(`--offline: 's3' or 'local', not '${args.offline}'`);
const ON_S3 = args.offline === 's3';
const runId = randomBytes(4).toString('hex');
const dir = join(process.cwd(), '.granary', 'tmp', `bench-historical-${runId}`);
const project = `bench_historical_${runId}`;
const benchEnv = {
  GRANARY_PROJECT: project,
  GRANARY_OFFLINE_URL: ON_S3 ? `s3://granary/bench-historical-${runId}` : join(dir, 'offline'),
  GRANARY_TASK_QUEUE: `bench-${project}`,
  GRANARY_SERVING_AUTH: 'none',
};
const config = loadConfig({ repoDir: process.cwd(), env: { ...process.env, ...benchEnv } });
/** The same rows as local files: what DuckDB's reference reads (and Granary too, with --offline local). */
const localCopy = new LocalOfflineStore({ path: join(dir, 'offline') });
const offline: OfflineStore = ON_S3 ? createOfflineStore(config.offline) : localCopy;
const registry = new PostgresRegistry({ url: config.registry.url, project });
const random = seededRandom(7);

function table(schema: Schema, children: Data[]): Table {
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: children[0]!.length, nullCount: 0, children }))]);
}

/** One commit's rows: random entities and event times over 30 days; ~2% repeat an earlier (entity, event time) with a later created time. */
function featureRows(count: number): Table {
  const ids: bigint[] = new Array(count);
  const events: number[] = new Array(count);
  const created: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    if (i > 0 && random() < 0.02) {
      const j = Math.floor(random() * i);
      ids[i] = ids[j]!;
      events[i] = events[j]!;
      created[i] = created[j]! + 1000 + Math.floor(random() * 60_000);
    } else {
      ids[i] = BigInt(Math.floor(random() * ENTITIES));
      events[i] = T0 + Math.floor(random() * 30 * 86_400) * 1000;
      created[i] = events[i]! + Math.floor(random() * 3600) * 1000;
    }
  }
  const floats = Array.from({ length: 6 }, (_, f) => Array.from({ length: count }, () => (random() < 0.05 ? null : Math.round(random() * 1e6) / (f + 1))));
  const ints = Array.from({ length: 2 }, () => Array.from({ length: count }, () => (random() < 0.05 ? null : BigInt(Math.floor(random() * 1e6)))));
  return table(viewSchema(view), [
    buildColumn('int64', ids),
    buildColumn('timestamp', events),
    buildColumn('timestamp', created),
    ...floats.map((v) => buildColumn('float64', v)),
    ...ints.map((v) => buildColumn('int64', v)),
  ]);
}

async function setUp(): Promise<{ labelsPath: string; objectPaths: string[] }> {
  await mkdir(dir, { recursive: true });
  await offline.ensureReady();
  await localCopy.ensureReady();
  await registry.migrate();
  await registry.apply(buildFeatureRepo('.', [{ definition: view }]));
  const objectPaths: string[] = [];
  for (let c = 0; c < COMMITS; c++) {
    const rows = featureRows(Math.ceil(ROWS / COMMITS));
    const key = objectKey({ project, view: view.name, version: 1, eventDate: '2024-01-01', batchId: `batch-${c}` });
    const info = await offline.writeTable(key, rows);
    if (ON_S3) await localCopy.writeTable(key, rows);
    const object: CommitObject = {
      key,
      rowCount: info.rowCount,
      bytes: info.bytes,
      checksum: info.checksum,
      minEventTime: new Date(T0),
      maxEventTime: new Date(T0 + 31 * DAY),
    };
    await registry.commit({ view: view.name, version: 1, batchId: `batch-${c}`, schemaVersion: 1, objects: [object] });
    objectPaths.push(localCopy.localPath(key));
  }
  const labelSchema = new Schema([new Field('user_id', viewSchema(view).fields[0]!.type, false), new Field('event_timestamp', viewSchema(view).fields[1]!.type, false), new Field('label', buildColumn('int32', [0]).type, false)]);
  const labels = table(labelSchema, [
    buildColumn('int64', Array.from({ length: LABELS }, () => BigInt(Math.floor(random() * ENTITIES * 1.1)))), // ~10% with no history
    buildColumn('timestamp', Array.from({ length: LABELS }, () => T0 + DAY + Math.floor(random() * 30 * 86_400) * 1000)),
    buildColumn('int32', Array.from({ length: LABELS }, () => (random() < 0.1 ? 1 : 0))),
  ]);
  const labelsPath = join(dir, 'labels.parquet');
  await writeFile(labelsPath, await encodeParquet(labels));
  return { labelsPath, objectPaths };
}

async function runGranary(labelsPath: string, out: string): Promise<number> {
  const started = performance.now();
  if (DISTRIBUTED !== null) {
    client ??= await connectClient(config.temporal);
    const temporal = client;
    await writeTrainingSet(
      {
        registry,
        offline,
        project,
        temporal: async () => ({ client: temporal, taskQueue: config.temporal.taskQueue }),
        s3Bucket: () => {
          throw new Error('no s3 destination in this bench');
        },
        waitOnWorkflow: (work) => work(),
      },
      {
        entitiesFile: labelsPath,
        features: FEATURES.map((f) => `${view.name}:${f}`),
        distributed: true,
        partitions: DISTRIBUTED,
        tempDir: dir,
        ...(args['memory-limit'] ? { memoryLimit: args['memory-limit'] } : {}),
      },
      out,
    );
    return performance.now() - started;
  }
  // In one process whatever the size (the command would go across workers above 20M rows: that is --distributed's measure).
  const argv = [BIN, 'historical', '--entities', labelsPath, '--features', FEATURES.map((f) => `${view.name}:${f}`).join(','), '--out', out, '--temp-dir', dir, '--distributed-above', String(Number.MAX_SAFE_INTEGER), '--json'];
  if (args['memory-limit']) argv.push('--memory-limit', args['memory-limit']);
  const { peakRss } = await runProcess(process.execPath, argv, { ...process.env, ...benchEnv });
  cliPeakRss = Math.max(cliPeakRss, peakRss);
  return performance.now() - started;
}

/** The `granary historical` process's peak RSS (VmHWM), largest over the runs. */
let cliPeakRss = 0;

/** Runs a command to its end, sampling its VmHWM; rejects with its stderr when it fails. */
async function runProcess(command: string, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<{ peakRss: number }> {
  const child = spawn(command, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  let peakRss = 0;
  const sample = async () => (peakRss = Math.max(peakRss, await peakRssOf(child.pid!)));
  const sampler = setInterval(() => void sample(), 100);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    // VmHWM is the process's own high-water mark: read it once more just before it is reaped.
    child.on('exit', (c) => resolve(c));
  }).finally(() => clearInterval(sampler));
  if (code !== 0) throw new Error(`granary historical exited with ${code}: ${stderr}`);
  return { peakRss };
}

function duckSql(labelsPath: string, objectPaths: string[], out: string): string {
  const files = objectPaths.map((p) => `'${p}'`).join(', ');
  const features = FEATURES.map((f) => `CASE WHEN f.event_timestamp >= l.event_timestamp - INTERVAL 2 DAY THEN f.${f} END AS ${f}`).join(', ');
  return `COPY (
    WITH labels AS (SELECT * FROM read_parquet('${labelsPath}', file_row_number = true)),
    feats AS (
      SELECT * FROM read_parquet([${files}])
      QUALIFY row_number() OVER (PARTITION BY user_id, event_timestamp ORDER BY created_timestamp DESC NULLS LAST) = 1
    )
    SELECT l.user_id, l.event_timestamp, l.label, ${features}
    FROM labels l ASOF LEFT JOIN feats f ON l.user_id = f.user_id AND l.event_timestamp >= f.event_timestamp
    ORDER BY l.file_row_number
  ) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`;
}

let client: Client | undefined;
const workers: WorkerProcess[] = [];

/** A process's peak RSS so far (VmHWM), bytes. */
async function peakRssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const { labelsPath, objectPaths } = await setUp();
  if (DISTRIBUTED !== null) {
    for (let w = 0; w < Number(args.workers); w++) workers.push(await startWorkerProcess({ ...benchEnv }));
  }
  const duck = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await duck.connect();
  const granaryMs: number[] = [];
  const duckMs: number[] = [];
  let peakRss = 0;
  const outG = join(dir, 'granary.parquet');
  const outD = join(dir, 'duckdb.parquet');
  for (let r = 0; r < RUNS; r++) {
    if (DISTRIBUTED === null) {
      granaryMs.push(await runGranary(labelsPath, outG));
      peakRss = cliPeakRss;
    } else {
      // The workflow's client side runs in this process: its peak sampled through the runs (the data set-up before and DuckDB after are not counted).
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
      granaryMs.push(await runGranary(labelsPath, outG).finally(() => clearInterval(sampler)));
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    const started = performance.now();
    await connection.run(duckSql(labelsPath, objectPaths, outD));
    duckMs.push(performance.now() - started);
  }
  const distinct = FEATURES.map((f) => `g.${f} IS DISTINCT FROM d.${f}`).join(' OR ');
  const check = await connection.runAndReadAll(
    `SELECT count(*) AS rows, count(*) FILTER (WHERE g.user_id <> d.user_id OR g.label <> d.label OR ${distinct}) AS mismatched,
            count(g.f0) AS matched
       FROM read_parquet('${outG}') g POSITIONAL JOIN read_parquet('${outD}') d`,
  );
  const [rows, mismatched, matched] = check.getRows()[0]!.map(Number) as [number, number, number];
  connection.closeSync();
  duck.closeSync();
  for (const worker of workers) peakRss = Math.max(peakRss, await peakRssOf(worker.child.pid!));
  const g = median(granaryMs);
  const d = median(duckMs);
  console.log(
    JSON.stringify(
      {
        benchmark: 'historical',
        labels: LABELS,
        featureRows: ROWS,
        entities: ENTITIES,
        features: FEATURES.length,
        ttl: '2d',
        offlineStore: ON_S3
          ? `MinIO (${config.offline.kind === 's3' ? config.offline.s3.endpoint : ''}): Granary downloads the committed objects; DuckDB's reference reads the same rows as local files`
          : 'local folder (both engines read the same Parquet files)',
        granaryRunsAs: DISTRIBUTED === null ? '`granary historical` in its own process (peak RSS: its VmHWM, sampled every 100 ms)' : 'the historical workflow on worker processes',
        engine: 'DuckDB (@duckdb/node-api) ASOF JOIN, objects staged from the offline store',
        ...(DISTRIBUTED === null ? {} : { distributed: { partitions: DISTRIBUTED, workerProcesses: workers.length } }),
        memoryLimit: args['memory-limit'] ?? "DuckDB's default (80% of RAM)",
        granary: { medianMs: Math.round(g), runsMs: granaryMs.map(Math.round), rowsPerSecond: Math.round(LABELS / (g / 1000)) },
        duckdb: { medianMs: Math.round(d), runsMs: duckMs.map(Math.round), query: 'ASOF LEFT JOIN, QUALIFY row_number() by created_timestamp, TTL after the join' },
        ratio: Number((g / d).toFixed(2)),
        outputsAgree: { rows, mismatched, labelsWithFeatures: matched },
        peakRssMiB: Math.round(peakRss / 2 ** 20),
      },
      null,
      2,
    ),
  );
} finally {
  await Promise.all(workers.map((w) => w.kill('SIGTERM')));
  await client?.connection.close();
  await registry.close();
  if (ON_S3) {
    for await (const object of offline.list('')) await offline.delete(object.key); // the run's own prefix
    await offline.close();
  }
  await rm(dir, { recursive: true, force: true });
}
