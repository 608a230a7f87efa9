import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { rebuildRunKey, type RunScratch } from '../stores/offline/object-key.ts';
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

/** Offers the partition's runs of every slice, slice by slice (`runs[slice]` runs each), to `newest`. */
export async function addRuns(offline: OfflineStore, ref: RunsRef, runs: readonly number[], newest: NewestPerEntity): Promise<void> {
  for (const [slice, count] of runs.entries()) {
    for (let run = 0; run < count; run++) {
      newest.add(tableFromIPC(await offline.getBytes(rebuildRunKey({ ...ref, slice, run }))));
      await yieldToEventLoop();
    }
  }
}
