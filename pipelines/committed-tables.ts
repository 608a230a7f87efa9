import type { Table } from 'apache-arrow';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Commit, CommitRange } from '../stores/registry/commit-log.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import { futureLimit, isFutureRow } from './future-event-time.ts';
import { yieldToEventLoop } from './yield-to-event-loop.ts';

const COMMITS_PER_PAGE = 200;

/**
 * Every row group of the view's commits in a range, in commit order, one table at a time (memory
 * stays one row group), each with its commit and the committed-row rule for it (`valid`:
 * future-event-time.ts). Timers and I/O (heartbeats) get their turn between row groups.
 *
 * @example
 *   for await (const { table, valid } of committedTables(registry, offline, ref, { after: 0, upTo: 40 }, skewMs)) newest.add(table, valid);
 */
export async function* committedTables(
  registry: Registry,
  offline: OfflineStore,
  ref: ViewRef,
  range: Pick<CommitRange, 'after' | 'upTo'>,
  maxFutureSkewMs?: number,
): AsyncGenerator<CommittedTable> {
  for (let after = range.after ?? 0; ; ) {
    const commits = await registry.commits(ref.view, ref.version, { after, ...(range.upTo === undefined ? {} : { upTo: range.upTo }), limit: COMMITS_PER_PAGE });
    if (commits.length === 0) return;
    after = commits.at(-1)!.seq;
    yield* tablesOfCommits(offline, commits, maxFutureSkewMs);
  }
}

export interface CommittedTable {
  readonly commit: Commit;
  readonly table: Table;
  readonly valid: (eventTime: number, createdTime: number) => boolean;
}

/** committedTables for commits already in hand (in the order given). */
export async function* tablesOfCommits(offline: OfflineStore, commits: readonly Commit[], maxFutureSkewMs?: number): AsyncGenerator<CommittedTable> {
  for (const commit of commits) {
    const limit = futureLimit(commit.committedAt, maxFutureSkewMs);
    const valid = (eventTime: number, createdTime: number): boolean => !isFutureRow(eventTime, createdTime, limit);
    for (const object of commit.objects) {
      for await (const { table } of offline.readTable(object.key)) {
        yield { commit, table, valid };
        await yieldToEventLoop();
      }
    }
  }
}
