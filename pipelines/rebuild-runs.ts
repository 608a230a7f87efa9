import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { rebuildRunKey, snapshotRunKey, type RunScratch } from '../stores/offline/object-key.ts';
import { takeRows } from '../arrow/take-rows.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { NewestPerEntity } from './newest-per-entity.ts';
import { yieldToEventLoop } from './yield-to-event-loop.ts';

/** A rebuild partition: the view version, its generation, the partition. */
export interface RunsRef extends ViewRef {
  readonly generation: number;
  readonly partition: number;
  /** Whose runs: a rebuild's (default) or a partitioned verify's. */
  readonly scratch?: RunScratch;
}

/**
 * A rebuild's scratch runs (scatter-slice.ts writes them, build-partition.ts and
 * verify-partition.ts read them): uncompressed Arrow IPC files, one or more per slice and
 * partition (more when the slice's rows have several schemas), at rebuildRunKey.
 *
 * @example
 *   await writeRun(offline, { ...ref, generation: 2, partition: 3 }, 0, 0, [piece]);
 *   await addRuns(offline, { ...ref, generation: 2, partition: 3 }, [1], newest); // slice 0 holds 1 run
 */
export async function writeRun(offline: OfflineStore, ref: RunsRef, slice: number, run: number, pieces: readonly Table[]): Promise<void> {
  const table = new Table(pieces[0]!.schema, pieces.flatMap((t) => t.batches));
  await offline.putBytes(rebuildRunKey({ ...ref, slice, run }), tableToIPC(table, 'file'));
}

/** A partition's part of a snapshot (view-snapshots.ts): its folder and how many runs the partition has there. */
export interface SnapshotRuns {
  readonly seq: number;
  readonly prefix: string;
  readonly runs: number;
}

/**
 * Offers the partition's runs of every slice, slice by slice (`runs[slice]` runs each), to
 * `newest`; with `snapshot`, the partition's snapshot runs first: they hold the newest row of
 * each entity up to the snapshot's seq, the slices only later commits, so an exact tie keeps the
 * snapshot's row, as it keeps the earlier commit's row when every commit is read.
 */
export async function addRuns(offline: OfflineStore, ref: RunsRef, runs: readonly number[], newest: NewestPerEntity, snapshot?: SnapshotRuns): Promise<void> {
  if (snapshot) await addSnapshotRuns(offline, snapshot, ref.partition, newest);
  for (const [slice, count] of runs.entries()) {
    for (let run = 0; run < count; run++) {
      newest.add(tableFromIPC(await offline.getBytes(rebuildRunKey({ ...ref, slice, run }))));
      await yieldToEventLoop();
    }
  }
}

/** Offers a partition's snapshot runs to `newest`, in run order (before anything else: their rows are one per entity, NewestPerEntity.addDistinct). */
export async function addSnapshotRuns(offline: OfflineStore, snapshot: SnapshotRuns, partition: number, newest: NewestPerEntity): Promise<void> {
  for (let run = 0; run < snapshot.runs; run++) {
    newest.addDistinct(tableFromIPC(await offline.getBytes(snapshotRunKey(snapshot.prefix, partition, run))));
    await yieldToEventLoop();
  }
}

/**
 * Writes the winners of `newest` as a partition's snapshot runs under `prefix`: the winners of
 * each table added, tables in the order added, a new run whenever the schema changes (objects of
 * older schema versions may lack columns). Deterministic: the same tables give the same runs.
 * Returns the number of runs written (0 when the partition has no entity).
 */
export async function writeSnapshotRuns(offline: OfflineStore, prefix: string, partition: number, newest: NewestPerEntity): Promise<number> {
  const groups: { schemaKey: string; tables: Table[] }[] = [];
  for (const { table, rows } of newest.winners()) {
    const schemaKey = table.schema.fields.map((f) => `${f.name}:${String(f.type)}`).join(',');
    const piece = takeRows(table, rows);
    const last = groups.at(-1);
    if (last?.schemaKey === schemaKey) last.tables.push(piece);
    else groups.push({ schemaKey, tables: [piece] });
  }
  for (const [run, { tables }] of groups.entries()) {
    const table = new Table(tables[0]!.schema, tables.flatMap((t) => t.batches));
    await offline.putBytes(snapshotRunKey(prefix, partition, run), tableToIPC(table, 'file'));
    await yieldToEventLoop();
  }
  return groups.length;
}
