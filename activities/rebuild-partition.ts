import { log } from '@temporalio/activity';
import { futureLimit, isFutureRow } from '../pipelines/future-event-time.ts';
import { convertRowsWhere, replaces } from '../pipelines/row-conversion.ts';
import type { OnlineRow } from '../stores/online/online-store.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { entityPartition } from '../pipelines/entity-partition.ts';
import { failpointAfterHeartbeat } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';
import { yieldToEventLoop } from '../pipelines/yield-to-event-loop.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';
import { CHUNK_ENTITIES, type PartitionPosition, type RebuiltPartition } from './build-partition.ts';

export interface RebuildPartitionInput extends ViewRef {
  readonly generation: number;
  readonly upTo: number;
  readonly partition: number;
  readonly partitions: number;
}

/** Commits looked up at a time. */
const COMMITS_PER_PAGE = 200;

/**
 * The build of runs started by older code (before `read-once-rebuild`; build-partition.ts now).
 * Rebuilds one entity-hash partition of a generation: reads every committed object up to
 * `upTo`, keeps the latest row (event time, then created time) of each entity of the partition,
 * and writes each entity once, in key order, heartbeating how many are written. A retry on the
 * same Redis process reduces again and resumes at that entity; after a Redis restart it writes
 * them all again (monotonic writes make repeats harmless).
 */
export function rebuildPartition(deps: ActivityDeps) {
  return async function rebuildPartition(input: RebuildPartitionInput): Promise<RebuiltPartition> {
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
        const latest = new Map<string, OnlineRow>();
        const inPartition = (key: string) => entityPartition(key, input.partitions) === input.partition;
        let rowsRead = 0;
        let refused = 0;
        for (let after = 0; ; ) {
          const commits = await registry.commits(input.view, input.version, { after, upTo: input.upTo, limit: COMMITS_PER_PAGE });
          if (commits.length === 0) break;
          after = commits[commits.length - 1]!.seq;
          for (const commit of commits) {
            const limit = futureLimit(commit.committedAt, deps.maxFutureSkewMs);
            const valid = (key: string, e: number, c: number): boolean => {
              if (!isFutureRow(e, c, limit)) return true;
              if (inPartition(key)) refused++;
              return false;
            };
            for (const object of commit.objects) {
              for await (const { table } of deps.offline.readTable(object.key)) {
                rowsRead += table.numRows;
                // Keys and times first: only the partition's rows newer than what it holds are converted.
                for (const { key, row } of convertRowsWhere(view, table, (key, e, c) => valid(key, e, c) && inPartition(key) && replaces(e, c, latest.get(key)))) {
                  if (replaces(row.eventTime, row.createdTime, latest.get(key))) latest.set(key, row);
                }
                await yieldToEventLoop(); // heartbeats and Redis replies get their turn between row groups
              }
            }
          }
        }

        const keys = [...latest.keys()].sort();
        if (resumedAt > 0) log.info(`${name}: resuming at entity ${resumedAt} of ${keys.length} (from the last heartbeat)`);
        else log.info(`${name}: starting, ${keys.length} entities from ${rowsRead} offline rows`);
        const counts = { written: 0, skipped: 0, expired: 0 };
        for (let start = resumedAt; start < keys.length; start += CHUNK_ENTITIES) {
          const rows = keys.slice(start, start + CHUNK_ENTITIES).map((key) => latest.get(key)!);
          const result = await deps.online.writeRows(target, rows);
          counts.written += result.written;
          counts.skipped += result.skipped;
          counts.expired += result.expired;
          position = { written: Math.min(start + CHUNK_ENTITIES, keys.length), redis };
          if (input.partition > 0 && start === resumedAt) await failpointAfterHeartbeat('mid-rebuild');
        }
        log.info(`${name}: done, ${keys.length} entities`);
        if (refused > 0) log.warn(`${name}: ${refused} row(s) refused, their event or created time is later than their commit's time + the skew`);
        return { partition: input.partition, entities: keys.length, rowsRead, ...counts, resumedAt, refused };
      },
      () => position,
    );
  };
}
