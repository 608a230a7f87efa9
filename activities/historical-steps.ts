import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { BatchValidationError } from '../ingest/batch-validation-error.ts';
import { CsvInputError } from '../ingest/csv-table.ts';
import { joinHistoricalPartition, mergeHistoricalPartitions } from '../retrieval/historical-partition-join.ts';
import { dropHistoricalScratch, historicalScratch } from '../retrieval/historical-scratch.ts';
import { splitHistorical } from '../retrieval/historical-split.ts';
import { planHistoricalRetrieval } from '../retrieval/plan-historical-retrieval.ts';
import type { HistoricalJoinOptions, HistoricalOutput } from '../retrieval/historical-join.ts';
import { failureTypes, type HistoricalInput } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';
import { withHeartbeat } from './heartbeat.ts';

/** A distributed training set's step on one partition. */
export interface HistoricalPartitionInput extends Pick<HistoricalInput, 'project' | 'id' | 'memoryLimit' | 'threads'> {
  readonly partition: number;
}

export interface HistoricalPlan {
  readonly partitions: number;
  readonly rows: number;
  readonly featureRows: number;
}

function joinOptions(input: Pick<HistoricalInput, 'memoryLimit' | 'threads'>): HistoricalJoinOptions {
  return { ...(input.memoryLimit === undefined ? {} : { memoryLimit: input.memoryLimit }), ...(input.threads === undefined ? {} : { threads: input.threads }) };
}

/**
 * The plan of a distributed training set (retrieval/historical-split.ts): the request resolved
 * against the registry as in process, the entity file fetched from the run's scratch, the
 * committed objects staged, everything split into entity-hash partitions in the scratch.
 * Heartbeats while it runs; a retry splits again to the same keys.
 *
 * @example
 *   await planHistorical({ project: 'fraud', id: 'a1b2c3', request: { entitiesKey, featureService: 'fraud_model_v1' } })
 *   // => { partitions: 2, rows: 1_000_000, featureRows: 2_000_000 }
 */
export function planHistorical(deps: ActivityDeps) {
  return async function planHistorical(input: HistoricalInput): Promise<HistoricalPlan> {
    const registry = deps.registry(input.project);
    const { request } = input;
    let phase = 'planning';
    return withHeartbeat(
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'granary-historical-plan-'));
        try {
          let entitiesFile: string | undefined;
          if (request.entitiesKey !== undefined) {
            entitiesFile = join(dir, `entities${extname(request.entitiesKey)}`);
            await writeFile(entitiesFile, await deps.offline.getBytes(request.entitiesKey));
          }
          const plan = await planHistoricalRetrieval(registry, {
            ...(entitiesFile === undefined ? {} : { entitiesFile }),
            ...(request.features === undefined ? {} : { features: request.features }),
            ...(request.featureService === undefined ? {} : { featureService: request.featureService }),
            ...(request.fullFeatureNames === undefined ? {} : { fullFeatureNames: request.fullFeatureNames }),
            ...(request.eventTimestampColumn === undefined ? {} : { eventTimestampColumn: request.eventTimestampColumn }),
            ...(request.start === undefined ? {} : { start: request.start }),
            ...(request.end === undefined ? {} : { end: request.end }),
          });
          const split = await splitHistorical(registry, deps.offline, plan, { project: input.project, id: input.id, partitions: input.partitions }, {
            ...joinOptions(input),
            onProgress: (p) => (phase = `${p.stage} ${p.done}/${p.total}`),
          });
          log.info(`historical run '${input.id}': ${split.rows} entity rows and ${split.featureRows} feature rows split into ${split.partitions} partitions`);
          return { partitions: split.partitions, rows: split.rows, featureRows: split.featureRows };
        } catch (error) {
          throw badRequest(error);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
      () => phase,
    );
  };
}

/**
 * What the request or the entity file got wrong (an unknown feature, a bad row, an unreadable
 * file: RangeError and the ingest checks' errors) fails the run at once, with its message; anything
 * else (S3 or PostgreSQL down) is retried.
 */
function badRequest(error: unknown): unknown {
  if (error instanceof RangeError || error instanceof BatchValidationError || error instanceof CsvInputError) {
    return ApplicationFailure.nonRetryable(error.message, failureTypes.invalidHistoricalRequest);
  }
  return error;
}

/**
 * One partition of a distributed training set, on whichever worker takes it: its rows from the
 * scratch, the point-in-time join, its result back to the scratch (joinHistoricalPartition).
 * Heartbeats while it runs; a retry (its worker killed) does the partition again, and puts the
 * same rows at the same key. Returns the partition's rows.
 */
export function joinHistoricalPartitionActivity(deps: ActivityDeps) {
  return async function joinHistoricalPartitionStep(input: HistoricalPartitionInput): Promise<number> {
    const name = `historical run '${input.id}', partition ${input.partition}`;
    log.info(`${name}: starting`);
    return withHeartbeat(async () => {
      const rows = await joinHistoricalPartition(deps.offline, input, input.partition, {
        ...joinOptions(input),
        onProgress: () => {
          if (input.partition > 0) failpoint('mid-historical-partition');
        },
      });
      log.info(`${name}: ${rows} rows joined`);
      return rows;
    });
  };
}

/** The partitions' results merged into the input's order, at the run's result key (mergeHistoricalPartitions). */
export function mergeHistorical(deps: ActivityDeps) {
  return async function mergeHistorical(input: Pick<HistoricalInput, 'project' | 'id' | 'memoryLimit' | 'threads'>): Promise<HistoricalOutput & { readonly resultKey: string }> {
    const output = await withHeartbeat(() => mergeHistoricalPartitions(deps.offline, input, joinOptions(input)));
    return { ...output, resultKey: historicalScratch(input.project, input.id).result };
  };
}

/** Drops a run's scratch (its result stays for the caller). Returns the objects deleted. */
export function dropHistoricalRun(deps: ActivityDeps) {
  return async function dropHistoricalRun(input: Pick<HistoricalInput, 'project' | 'id'>): Promise<number> {
    return withHeartbeat(() => dropHistoricalScratch(deps.offline, input.project, input.id));
  };
}
