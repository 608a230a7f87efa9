import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { ident, literal } from './duckdb-session.ts';
import { PARQUET_OUTPUT, withJoinSession, type HistoricalJoinOptions, type HistoricalOutput } from './historical-join.ts';
import { historicalScratch } from './historical-scratch.ts';
import { downloadPartition, partitionKeyColumn, readHistoricalSplit, ROW_COLUMN, TIME_COLUMN } from './historical-split.ts';
import { pointInTimeSql, type PointInTimeView } from './point-in-time-sql.ts';

/** A run of a distributed training set: its project and id (workflow `historical/<project>/<id>`). */
export interface HistoricalRun {
  readonly project: string;
  readonly id: string;
}

/**
 * One partition of a distributed training set, on any worker: its entity rows and each view's
 * rows come down from the run's scratch (the split), the same point-in-time query as the
 * in-process path runs over them (pointInTimeSql, the views' rows already staged), and the
 * result, each row with its input row number, goes up to `joined/p<i>.parquet`. Nothing else is
 * kept: a retry (its worker killed) does the partition again and puts the same rows at the same
 * key. Returns the partition's row count.
 *
 * @example
 *   await joinHistoricalPartition(offline, { project: 'fraud', id: 'a1b2c3' }, 3) // => 124_903
 */
export async function joinHistoricalPartition(offline: OfflineStore, run: HistoricalRun, partition: number, options: HistoricalJoinOptions = {}): Promise<number> {
  const split = await readHistoricalSplit(offline, run.project, run.id);
  if (!Number.isSafeInteger(partition) || partition < 0 || partition >= split.partitions) {
    throw new RangeError(`historical run '${run.id}' has ${split.partitions} partitions, not a partition ${partition}`);
  }
  return withJoinSession(options, async (duck, work) => {
    const files = await downloadPartition(offline, run.project, run.id, partition, split.views.length, join(work, 'in'));
    options.onProgress?.({ stage: 'join', done: 0, total: 1 });
    const views: PointInTimeView[] = split.views.map((v, i) => ({
      files: files.views[i]!,
      keys: v.keys.map((k, j) => ({ ...k, entitySql: `l.${ident(partitionKeyColumn(i, j))}` })),
      eventTimestampColumn: 'e',
      createdTimestampColumn: null,
      features: v.features,
      unionByName: false,
      ttlMs: v.ttlMs,
      staged: true,
    }));
    const entities = {
      path: join(work, 'in', 'entities-*.parquet'),
      columns: [...split.entityColumns, ROW_COLUMN],
      timeSql: `l.${ident(TIME_COLUMN)}`,
    };
    const out = join(work, 'joined.parquet');
    const sql = pointInTimeSql({ entities, views, output: split.output });
    await duck.run(`COPY (${sql}) TO ${literal(out)} (${PARQUET_OUTPUT})`);
    const [count] = await duck.rows(`SELECT count(*) AS n FROM read_parquet(${literal(out)})`);
    await offline.putBytes(historicalScratch(run.project, run.id).joined(partition), await readFile(out));
    return Number(count!.n);
  });
}

/**
 * The last step of a distributed training set: every partition's joined rows come down from the
 * scratch and are written as one Parquet file in the input's order (by the input row number each
 * row carries, which is then dropped), at the run's result key. The same partitions give the
 * same rows in the same order, whichever worker ran them and however often.
 *
 * @example
 *   await mergeHistoricalPartitions(offline, { project: 'fraud', id: 'a1b2c3' })
 *   // => { rows: 1_000_000, bytes: 21_337_120, columns: ['user_id', 'event_timestamp', 'label', 'spend'] }
 */
export async function mergeHistoricalPartitions(offline: OfflineStore, run: HistoricalRun, options: HistoricalJoinOptions = {}): Promise<HistoricalOutput> {
  const split = await readHistoricalSplit(offline, run.project, run.id);
  const scratch = historicalScratch(run.project, run.id);
  return withJoinSession(options, async (duck, work) => {
    const parts: string[] = [];
    for (let p = 0; p < split.partitions; p++) {
      const path = join(work, `p${String(p).padStart(5, '0')}.parquet`);
      await writeFile(path, await offline.getBytes(scratch.joined(p)));
      parts.push(path);
      options.onProgress?.({ stage: 'read', done: p + 1, total: split.partitions + 1 });
    }
    const out = join(work, 'training-set.parquet');
    await duck.run(
      `COPY (SELECT * EXCLUDE (${ident(ROW_COLUMN)}) FROM read_parquet([${parts.map(literal).join(', ')}]) ORDER BY ${ident(ROW_COLUMN)}) TO ${literal(out)} (${PARQUET_OUTPUT})`,
    );
    await offline.putBytes(scratch.result, await readFile(out));
    options.onProgress?.({ stage: 'join', done: split.partitions + 1, total: split.partitions + 1 });
    return { rows: split.rows, bytes: (await stat(out)).size, columns: split.columns };
  });
}
