import { log } from '@temporalio/activity';
import { NewestPerEntity } from '../pipelines/newest-per-entity.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';
import { addRuns, type SnapshotRuns } from '../pipelines/rebuild-runs.ts';
import { arrowOnlineColumns } from '../pipelines/arrow-online-columns.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpointAfterHeartbeat } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';

export interface BuildPartitionInput extends ViewRef {
  readonly generation: number;
  readonly partition: number;
  readonly partitions: number;
  /** Runs of this partition per slice, in slice order (scatterSlice's runs[partition] of each slice). */
  readonly runs: readonly number[];
  /** The partition's snapshot runs, read before `runs` (their slices hold only commits after the snapshot's seq). */
  readonly snapshot?: SnapshotRuns;
}

export interface RebuiltPartition {
  readonly partition: number;
  /** Entities of the partition (each written once). */
  readonly entities: number;
  /** Offline rows read (the legacy rebuildPartition: every object, whole; buildPartition: its own runs). */
  readonly rowsRead: number;
  readonly written: number;
  /** Newer rows were already there (a catch-up or materialization got there first). */
  readonly skipped: number;
  /** Past their expiry: not kept. */
  readonly expired: number;
  /** Rows of the partition with a time later than their commit's time + the skew: invalid (future-event-time.ts). */
  readonly refused?: number;
  /** The entity this attempt resumed at (0 when it started from the beginning). */
  readonly resumedAt: number;
}

/** Where a partition resumes: entities written, in the build's order, on this Redis process. */
export interface PartitionPosition {
  readonly written: number;
  readonly redis: string;
}

/** Entities per online write. */
export const CHUNK_ENTITIES = 2000;
/** Chunk writes sent before the first one's answer is awaited. */
const WRITES_IN_FLIGHT = 2;
/**
 * The write half of a read-once rebuild: reads the partition's runs (scatterSlice), slice by
 * slice in commit order, keeps the newest row of each entity over them (an exact tie keeps the
 * earlier slice's row, as a one-by-one monotonic write would) and writes each entity once,
 * straight from the Arrow columns (packed from their buffers in a layout-2
 * generation, arrow-row-packer.ts), heartbeating how many are written. The write is the store's
 * writeNewRows: no monotonic compare while the generation's marker records no applied commit
 * (nobody else writes it before markRebuiltUpTo), the monotonic write once it does (a zombie
 * attempt still writing during the catch-up). A retry on the same Redis process reads the runs
 * again and resumes at that entity (the order is deterministic); after a Redis restart it writes
 * them all again (the same rows: repeats are harmless).
 *
 * @example
 *   await buildPartition({ project: 'fraud', view: 'user_spend', version: 1, generation: 2, partition: 3, partitions: 8, runs: [1, 1] })
 *   // => { partition: 3, entities: 250_000, rowsRead: 500_000, written: 250_000, skipped: 0, expired: 0, resumedAt: 0 }
 */
export function buildPartition(deps: ActivityDeps) {
  return async function buildPartition(input: BuildPartitionInput): Promise<RebuiltPartition> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    const target = onlineTarget(input, view, input.generation);
    const redis = await deps.online.instanceId();
    const last = lastHeartbeat<PartitionPosition>();
    const resumedAt = last?.redis === redis ? last.written : 0;
    const name = `rebuild of '${input.view}' v${input.version} generation ${input.generation}, partition ${input.partition}/${input.partitions}`;
    let position: PartitionPosition = { written: resumedAt, redis };

    return withHeartbeat(
      async () => {
        const newest = new NewestPerEntity(view);
        await addRuns(deps.offline, input, input.runs, newest, input.snapshot);
        if (resumedAt > 0) log.info(`${name}: resuming at entity ${resumedAt} of ${newest.entities} (from the last heartbeat)`);
        else log.info(`${name}: starting, ${newest.entities} entities from ${newest.rowsRead} rows of its runs`);
        const counts = { written: 0, skipped: 0, expired: 0 };
        // A chunk's write is sent before the last one's is awaited: Redis writes one while this
        // process converts the next. The position only moves past chunks written whole, in order.
        const chunks = newest.rowIndexChunks(CHUNK_ENTITIES, resumedAt);
        const send = () => {
          const step = chunks.next();
          if (step.done) return undefined;
          const { table, rows, keys, done } = step.value;
          const written = deps.online.writeNewRows(target, arrowOnlineColumns(view, table, rows, keys));
          written.catch(() => undefined); // awaited in order below
          return { written, done };
        };
        const inFlight = Array.from({ length: WRITES_IN_FLIGHT }, send).filter((c) => c !== undefined);
        let first = true;
        for (let chunk = inFlight.shift(); chunk; chunk = inFlight.shift()) {
          const following = send();
          if (following) inFlight.push(following);
          const result = await chunk.written;
          counts.written += result.written;
          counts.skipped += result.skipped;
          counts.expired += result.expired;
          position = { written: chunk.done, redis };
          if (input.partition > 0 && first) await failpointAfterHeartbeat('mid-rebuild');
          first = false;
        }
        log.info(`${name}: done, ${newest.entities} entities from ${newest.rowsRead} rows of its runs`);
        return { partition: input.partition, entities: newest.entities, rowsRead: newest.rowsRead, ...counts, resumedAt };
      },
      () => position,
    );
  };
}
