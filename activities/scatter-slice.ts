import { log } from '@temporalio/activity';
import type { Table } from 'apache-arrow';
import { takeRows } from '../arrow/take-rows.ts';
import { entityPartition } from '../pipelines/entity-partition.ts';
import { committedTables } from '../pipelines/committed-tables.ts';
import { NewestPerEntity } from '../pipelines/newest-per-entity.ts';
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
  /** Entities of the slice: the rows kept, one per entity. */
  readonly entities: number;
  /** Runs written per partition (runs[p] files for partition p, most often 1; 0 when it has no entity in the slice). */
  readonly runs: readonly number[];
}

/**
 * The read-once half of a rebuild: reads every committed row of one slice of commits once, keeps
 * the newest row of each entity (newest-per-entity.ts; rows past their commit's future limit
 * refused), and writes those rows split by entity-hash partition as Arrow IPC runs in the
 * rebuild's scratch (object-key.ts rebuildRunKey). A partition's build then reads only its own
 * runs, so every partition no longer reads every object.
 *
 * Rows whose objects have different columns (schema versions of the view) go to separate runs.
 * Keys and bytes are deterministic, so a retry (or a zombie attempt) writes the same runs at the
 * same keys; a retry starts the slice over, re-reading only its own commits.
 *
 * @example
 *   await scatterSlice({ project: 'fraud', view: 'user_spend', version: 1, generation: 2, slice: 0, after: 0, upTo: 17, partitions: 8 })
 *   // => { slice: 0, rowsRead: 2_000_000, refused: 0, entities: 1_000_000, runs: [1, 1, 1, 1, 1, 1, 1, 1] }
 */
export function scatterSlice(deps: ActivityDeps) {
  return async function scatterSlice(input: ScatterSliceInput): Promise<ScatteredSlice> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    let phase = 'reading';
    return withHeartbeat(
      async () => {
        const newest = new NewestPerEntity(view);
        let refused = 0;
        for await (const { table, valid } of committedTables(registry, deps.offline, input, { after: input.after, upTo: input.upTo }, deps.maxFutureSkewMs)) {
          refused += newest.add(table, valid);
        }

        phase = 'writing runs';
        const runs = new Array<number>(input.partitions).fill(0);
        // A partition's pieces, by schema (objects of older schema versions may lack columns).
        let partition = -1;
        let pieces = new Map<string, Table[]>();
        const flush = async (): Promise<void> => {
          for (const tables of pieces.values()) await writeRun(deps.offline, { ...input, partition }, input.slice, runs[partition]!++, tables);
          pieces = new Map();
        };
        for (const { group, table, rows } of newest.winners((key) => entityPartition(key, input.partitions))) {
          if (group !== partition) {
            await flush();
            partition = group;
          }
          const schemaKey = table.schema.fields.map((f) => `${f.name}:${String(f.type)}`).join(',');
          const tables = pieces.get(schemaKey) ?? [];
          tables.push(takeRows(table, rows));
          pieces.set(schemaKey, tables);
          await yieldToEventLoop();
        }
        await flush();
        if (refused > 0) log.warn(`rebuild of '${input.view}' v${input.version}, slice ${input.slice}: ${refused} row(s) refused, their event or created time is later than their commit's time + the skew`);
        return { slice: input.slice, rowsRead: newest.rowsRead, refused, entities: newest.entities, runs };
      },
      () => ({ phase }),
    );
  };
}
