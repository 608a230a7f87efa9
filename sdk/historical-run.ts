import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { encodeParquet } from '../stores/offline/encode-parquet.ts';
import { committedObjects } from '../retrieval/committed-objects.ts';
import { writeHistoricalFeatures } from '../retrieval/historical-features.ts';
import type { HistoricalOutput, HistoricalView } from '../retrieval/historical-join.ts';
import { historicalScratch } from '../retrieval/historical-scratch.ts';
import { planHistoricalRetrieval, type HistoricalFeaturesOptions } from '../retrieval/plan-historical-retrieval.ts';
import { historicalProgressQuery, type HistoricalInput, type HistoricalProgress, type HistoricalRequest } from '../workflows/contracts.ts';
import type { historicalWorkflow } from '../workflows/historical-workflow.ts';
import { historicalStart, workflowTypes } from '../workflows/starters.ts';
import { whilePolling } from './progress-poller.ts';

/** Label plus feature rows above which a training set runs across workers unless told (distributedAboveRows). */
export const DEFAULT_DISTRIBUTED_ABOVE_ROWS = 20_000_000;

export interface HistoricalRunOptions extends HistoricalFeaturesOptions {
  /** true: always across workers; false: always in this process; default: across workers above distributedAboveRows. */
  readonly distributed?: boolean;
  /** Entity rows plus the requested views' committed rows above which the run goes across workers (default 20M). */
  readonly distributedAboveRows?: number;
  /** Entity-hash partitions of a distributed run (default: the plan's, about 2M rows each). */
  readonly partitions?: number;
  /** Partitions in flight at once (default 4). */
  readonly parallelism?: number;
  /** Called with a distributed run's progress about twice a second. */
  readonly onRunProgress?: (progress: HistoricalProgress) => void;
}

/** What a historical run needs from the SDK: the stores, Temporal, and a store for an `s3://` destination outside the offline store. */
export interface HistoricalRunContext {
  readonly registry: Registry;
  readonly offline: OfflineStore;
  readonly project: string;
  readonly temporal: () => Promise<{ readonly client: Client; readonly taskQueue: string }>;
  /** An object store for `s3://<bucket>/...` with the offline store's endpoint and credentials; throws when none is configured. */
  readonly s3Bucket: (bucket: string) => OfflineStore;
  /** Waits on the workflow (the SDK's worker watch: says when no worker polls, stops after its timeout). */
  readonly waitOnWorkflow: <T>(work: () => Promise<T>) => Promise<T>;
}

export interface HistoricalRunOutput extends HistoricalOutput {
  /** The workflow id when the run went across workers (`historical/<project>/<id>`), else null. */
  readonly workflowId: string | null;
  readonly partitions: number | null;
}

/**
 * `granary historical` and `store.writeHistoricalFeatures`: a training set (or a snapshot) into
 * `out`, a local path or an `s3://bucket/key` URL, in this process (historicalJoin) or, with
 * `distributed` or above `distributedAboveRows` label plus committed feature rows, across
 * workers (workflows/historical-workflow.ts): the entity file goes to the run's scratch, the
 * workflow splits, joins each partition on any worker, merges, and this process copies the result
 * to `out`. The run's id hashes the request, the entity file and `out`: the same request started
 * twice attaches to the running one. Both paths give the same rows in the same order.
 *
 * @example
 *   await writeTrainingSet(context, { entitiesFile: 'labels.parquet', featureService: 'fraud_model_v1', distributed: true, partitions: 8 }, 's3://ml/train.parquet')
 *   // => { rows: 10_000_000, columns: [...], workflowId: 'historical/fraud/5d41402abc4b2a76', partitions: 8, ... }
 */
export async function writeTrainingSet(context: HistoricalRunContext, options: HistoricalRunOptions, out: string): Promise<HistoricalRunOutput> {
  const destination = parseDestination(out);
  if (destination.kind === 's3') context.s3Bucket(destination.bucket); // no S3 settings: refused before any work
  for (const [name, value] of [['partitions', options.partitions], ['parallelism', options.parallelism]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new RangeError(`historical features: ${name} must be a whole number >= 1, got ${value}`);
  }
  // The request is resolved here first, so a bad one is refused before anything is written or started.
  const views = (await planHistoricalRetrieval(context.registry, options)).views;
  const distributed = options.distributed ?? (await inputRows(views, context.registry, options)) > (options.distributedAboveRows ?? DEFAULT_DISTRIBUTED_ABOVE_ROWS);
  if (!distributed) {
    if (destination.kind === 'local') return { ...(await writeHistoricalFeatures(context.registry, context.offline, options, out)), workflowId: null, partitions: null };
    const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'granary-training-'));
    try {
      const local = join(dir, 'training-set.parquet');
      const output = await writeHistoricalFeatures(context.registry, context.offline, options, local);
      await context.s3Bucket(destination.bucket).putBytes(destination.key, await readFile(local));
      return { ...output, workflowId: null, partitions: null };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  // Across workers: the entity rows go where any worker can read them, then the workflow runs.
  let entities: { bytes: Uint8Array; extension: 'parquet' | 'csv' } | null = null;
  if (options.entities) entities = { bytes: await encodeParquet(options.entities), extension: 'parquet' };
  else if (options.entitiesFile) {
    const extension = extname(options.entitiesFile).toLowerCase();
    if (extension !== '.parquet' && extension !== '.csv') throw new RangeError(`entity file '${options.entitiesFile}': a .parquet or .csv file`);
    entities = { bytes: await readFile(options.entitiesFile), extension: extension === '.csv' ? 'csv' : 'parquet' };
  }
  const request: HistoricalRequest = {
    ...(options.features === undefined ? {} : { features: options.features }),
    ...(options.featureService === undefined ? {} : { featureService: options.featureService }),
    ...(options.fullFeatureNames === undefined ? {} : { fullFeatureNames: options.fullFeatureNames }),
    ...(options.eventTimestampColumn === undefined ? {} : { eventTimestampColumn: options.eventTimestampColumn }),
    ...(options.start === undefined ? {} : { start: toMillis(options.start) }),
    ...(options.end === undefined ? {} : { end: toMillis(options.end) }),
  };
  const id = createHash('sha256')
    .update(JSON.stringify([request, options.partitions ?? null, out]))
    .update(entities ? createHash('sha256').update(entities.bytes).digest('hex') : 'snapshot')
    .digest('hex')
    .slice(0, 20);
  const scratch = historicalScratch(context.project, id);
  if (entities) await context.offline.putBytes(scratch.entities(entities.extension), entities.bytes);
  const input: HistoricalInput = {
    project: context.project,
    id,
    request: { ...request, ...(entities ? { entitiesKey: scratch.entities(entities.extension) } : {}) },
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    ...(options.memoryLimit === undefined ? {} : { memoryLimit: options.memoryLimit }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  };
  const { client, taskQueue } = await context.temporal();
  const handle = await client.workflow.start<typeof historicalWorkflow>(workflowTypes.historical, historicalStart(input, taskQueue));
  const result = await context
    .waitOnWorkflow(() => whilePolling(client, handle, historicalProgressQuery, options.onRunProgress, handle.result()))
    .catch((error: unknown) => {
      throw failure(error, handle.workflowId);
    });

  const bytes = await context.offline.getBytes(result.resultKey);
  if (destination.kind === 's3') await context.s3Bucket(destination.bucket).putBytes(destination.key, bytes);
  else {
    const temp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temp, bytes);
    await rename(temp, out);
  }
  await context.offline.delete(result.resultKey);
  return { rows: result.rows, bytes: result.bytes, columns: result.columns, workflowId: handle.workflowId, partitions: result.partitions };
}

/** Where a training set goes: a local path, or an object in S3 (`s3://bucket/key`). */
export function parseDestination(out: string): { kind: 'local'; path: string } | { kind: 's3'; bucket: string; key: string } {
  if (!out.startsWith('s3://')) return { kind: 'local', path: out };
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(out);
  if (!match) throw new RangeError(`--out ${out}: an S3 URL names a bucket and a key, s3://bucket/path/train.parquet`);
  return { kind: 's3', bucket: match[1]!, key: match[2]! };
}

/** A failed run as the error its failing step threw (an entity file's bad row, named), with the workflow id. */
function failure(error: unknown, workflowId: string): Error {
  if (!(error instanceof WorkflowFailedError)) return error as Error;
  let cause: unknown = error.cause;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  const message = cause instanceof Error ? cause.message : error.message;
  return new Error(`historical run ${workflowId} failed: ${message}`, { cause: error });
}

/** Entity rows plus the requested views' committed rows (every commit: an upper bound), to choose where the run goes. */
async function inputRows(views: readonly HistoricalView[], registry: Registry, options: HistoricalFeaturesOptions): Promise<number> {
  let rows = 0;
  for (const v of views) rows += (await committedObjects(registry, v.view)).reduce((n, o) => n + o.rowCount, 0);
  if (options.entities) rows += options.entities.numRows;
  else if (options.entitiesFile) rows += await fileRows(options.entitiesFile);
  return rows;
}

/** Rows of an entity file: a Parquet file's from its footer, a CSV file's lines (less the header). */
async function fileRows(path: string): Promise<number> {
  if (!(await stat(path).catch(() => null))?.isFile()) throw new Error(`entity file '${path}': no such file`);
  if (extname(path).toLowerCase() === '.parquet') {
    const { DuckDBSession, literal } = await import('../retrieval/duckdb-session.ts');
    const duck = await DuckDBSession.open({ tempDir: tmpdir(), threads: 1 });
    try {
      const [row] = await duck.rows(`SELECT count(*) AS n FROM read_parquet(${literal(path)})`);
      return Number(row!.n);
    } catch {
      return 0; // unreadable: the run itself names the problem
    } finally {
      duck.close();
    }
  }
  let lines = 0;
  for await (const chunk of createReadStream(path)) for (const byte of chunk as Buffer) if (byte === 10) lines++;
  return Math.max(0, lines - 1);
}

function toMillis(value: Date | number | string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new RangeError(`historical features: ${JSON.stringify(value)} is not a time (ISO 8601 text, a Date or ms since epoch)`);
  return ms;
}
