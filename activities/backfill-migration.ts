import { log } from '@temporalio/activity';
import type { ActivityDeps } from './activity-deps.ts';
import { failpointAfterHeartbeat } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';
import { migrateOneCommit, type CommitPosition } from './migrate-commit.ts';
import { migrationContext, type MigrationRef } from './migration-context.ts';

export interface BackfillInput extends MigrationRef {
  /** Old-version commits after this seq... */
  readonly after: number;
  /** ...at most this many. */
  readonly limit: number;
}

export interface BackfillPage {
  /** The last old-version commit done (the next page starts after it). */
  readonly lastSeq: number;
  readonly commits: number;
  /** Commits rewritten by this page; the rest had their copy already (dual-write, earlier attempt). */
  readonly rewritten: number;
  readonly rows: number;
  /** Fewer than `limit` commits were left: the backfill has caught up. */
  readonly caughtUp: boolean;
  /** The commit this attempt resumed after (from the last heartbeat), when it did. */
  readonly resumedAfter?: number;
}

/** Heartbeat details: the commits done, and the position inside the one under way. */
interface BackfillPosition {
  readonly after: number;
  readonly rewritten: number;
  readonly rows: number;
  readonly current?: CommitPosition;
}

/**
 * One page of a migration's backfill: the old version's commits after `after`, each rewritten
 * into the new version (migrate-commit.ts), in commit order. It heartbeats the last commit done
 * and the object reached inside the next one, so a retry (after a worker dies) resumes there
 * rather than at the page's start; whatever it repeats is idempotent (same keys, same bytes, a
 * commit per derived batch id).
 */
export function backfillMigration(deps: ActivityDeps) {
  return async function backfillMigration(input: BackfillInput): Promise<BackfillPage> {
    const registry = deps.registry(input.project);
    const context = await migrationContext(deps, input);
    const last = lastHeartbeat<BackfillPosition>();
    let position: BackfillPosition = last && last.after >= input.after ? last : { after: input.after, rewritten: 0, rows: 0 };
    const name = `backfill of '${input.view}' v${input.from} -> v${input.to}`;
    if (last) log.info(`${name}: resuming after commit ${position.after} (from the last heartbeat)`);
    return withHeartbeat(
      async () => {
        const commits = await registry.commits(input.view, input.from, { after: input.after, limit: input.limit });
        let done = 0;
        for (const commit of commits) {
          if (commit.seq <= position.after) {
            done += 1;
            continue;
          }
          const migrated = await migrateOneCommit(deps, context, commit, position.current, (current) => (position = { ...position, current }));
          position = {
            after: commit.seq,
            rewritten: position.rewritten + (migrated.created ? 1 : 0),
            rows: position.rows + (migrated.created ? migrated.rows : 0),
          };
          done += 1;
          log.info(`${name}: commit ${commit.seq} -> ${migrated.seq} (${migrated.rows} rows${migrated.created ? '' : ', committed before'})`);
          if (done < commits.length) await failpointAfterHeartbeat('mid-backfill');
        }
        return {
          lastSeq: commits.at(-1)?.seq ?? input.after,
          commits: commits.length,
          rewritten: position.rewritten,
          rows: position.rows,
          caughtUp: commits.length < input.limit,
          ...(last ? { resumedAfter: last.after } : {}),
        };
      },
      () => position,
    );
  };
}
