import { log } from '@temporalio/activity';
import type { Table } from 'apache-arrow';
import { takeRows } from '../arrow/take-rows.ts';
import { entityPartition } from '../pipelines/entity-partition.ts';
import { committedTables } from '../pipelines/committed-tables.ts';
import { rowKeysAndTimes } from '../pipelines/row-conversion.ts';
import { registeredView } from '../pipelines/registered-view.ts';
import { yieldToEventLoop } from '../pipelines/yield-to-event-loop.ts';
import { writeRun } from '../pipelines/rebuild-runs.ts';
import type { RunScratch } from '../stores/offline/object-key.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { withHeartbeat } from './heartbeat.ts';

export interface ScatterSliceInput extends ViewRef {
  readonly generation: number;
  readonly slice: number;
  /** The slice's commits: seq in (after, upTo] (planRebuild). */
  readonly after: number;
  readonly upTo: number;
  readonly partitions: number;
  /** Whose scratch the runs go to: a rebuild's (default) or a partitioned verify's (object-key.ts). */
  readonly scratch?: RunScratch;
}

export interface ScatteredSlice {
  readonly slice: number;
  /** Committed rows read: each row of the slice's commits, once. */
  readonly rowsRead: number;
  /** Rows with a time later than their commit's time + the skew: invalid (future-event-time.ts). */
  readonly refused: number;
  /**
   * Rows kept and written to runs (every row not refused: the scatter splits, the build keeps
   * one per entity). Named `entities` when the scatter reduced, kept so for recorded histories.
   */
  readonly entities: number;
  /** Runs written per partition (runs[p] files for partition p, most often 1; 0 when it has no entity in the slice). */
  readonly runs: readonly number[];
}

/**
 * The read-once half of a rebuild: reads every committed row of one slice of commits once
 * (rows past their commit's future limit refused) and writes them split by entity-hash
 * partition, in commit and row order, as Arrow IPC runs in the rebuild's scratch (object-key.ts
 * rebuildRunKey). A partition's build then reads only its own runs, so every partition no longer
 * reads every object, and keeps the newest row of each entity over them (newest-per-entity.ts).
 * Until session 8 the scatter also kept only the newest row per entity of its slice; that cost a
 * map lookup per row and saved nothing when a slice holds each entity once (the usual batch).
 *
 * Rows whose objects have different columns (schema versions of the view) go to separate runs, a
 * new run each time the schema changes, so reading the runs in order reads the rows in order.
 * Keys and bytes are deterministic, so a retry (or a zombie attempt) writes the same runs at the
 * same keys; a retry starts the slice over, re-reading only its own commits.
 *
 * @example
 *   await scatterSlice({ project: 'fraud', view: 'user_spend', version: 1, generation: 2, slice: 0, after: 0, upTo: 17, partitions: 8 })
 *   // => { slice: 0, rowsRead: 2_000_000, refused: 0, entities: 2_000_000, runs: [1, 1, 1, 1, 1, 1, 1, 1] }
 */
export function scatterSlice(deps: ActivityDeps) {
  return async function scatterSlice(input: ScatterSliceInput): Promise<ScatteredSlice> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    let phase = 'reading';
    return withHeartbeat(
      async () => {
        // Each valid row goes to its entity's partition, in commit, object and row order (the
        // build keeps the first of equal newest rows, so the order is kept). Not reduced here: a
        // slice mostly holds each entity once, and the build reduces anyway (a map lookup per row
        // was a quarter of this activity's time).
        let rowsRead = 0;
        let refused = 0;
        let kept = 0;
        // Per partition, its pieces in order, a new run whenever the schema changes (objects of
        // older schema versions may lack columns): the runs, read in order, keep the row order.
        const pieces = Array.from({ length: input.partitions }, () => [] as { schemaKey: string; tables: Table[] }[]);
        for await (const { table, valid } of committedTables(registry, deps.offline, input, { after: input.after, upTo: input.upTo }, deps.maxFutureSkewMs)) {
          const { keys, eventTimes, createdTimes } = rowKeysAndTimes(view, table);
          const rowsOf = Array.from({ length: input.partitions }, () => [] as number[]);
          for (let i = 0; i < keys.length; i++) {
            if (!valid(eventTimes[i]!, createdTimes[i]!)) {
              refused++;
              continue;
            }
            rowsOf[entityPartition(keys[i]!, input.partitions)]!.push(i);
          }
          rowsRead += keys.length;
          const schemaKey = table.schema.fields.map((f) => `${f.name}:${String(f.type)}`).join(',');
          for (let p = 0; p < input.partitions; p++) {
            if (rowsOf[p]!.length === 0) continue;
            kept += rowsOf[p]!.length;
            const last = pieces[p]!.at(-1);
            const piece = takeRows(table, Int32Array.from(rowsOf[p]!));
            if (last?.schemaKey === schemaKey) last.tables.push(piece);
            else pieces[p]!.push({ schemaKey, tables: [piece] });
          }
          await yieldToEventLoop();
        }

        phase = 'writing runs';
        const runs = new Array<number>(input.partitions).fill(0);
        for (let p = 0; p < input.partitions; p++) {
          for (const { tables } of pieces[p]!) await writeRun(deps.offline, { ...input, partition: p }, input.slice, runs[p]!++, tables);
          pieces[p] = [];
        }
        if (refused > 0) log.warn(`rebuild of '${input.view}' v${input.version}, slice ${input.slice}: ${refused} row(s) refused, their event or created time is later than their commit's time + the skew`);
        return { slice: input.slice, rowsRead, refused, entities: kept, runs };
      },
      () => ({ phase }),
    );
  };
}
