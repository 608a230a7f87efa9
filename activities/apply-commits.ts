import { ApplicationFailure, log } from '@temporalio/activity';
import { tablesOfCommits } from '../pipelines/committed-tables.ts';
import { NewestPerEntity } from '../pipelines/newest-per-entity.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';
import type { Commit } from '../stores/registry/commit-log.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { checkGenerationLive, checkRedisHoldsWatermark, type AppliedCommit } from './apply-commit.ts';
import { failpoint } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';
import { redisDataLost } from './prepare-materialization.ts';

export interface ApplyCommitsInput extends ViewRef {
  readonly generation: number;
  /** Pending commits of the view, in order (from pendingCommits); the first ones up to maxRows input rows are applied. */
  readonly seqs: readonly number[];
  /** The commit the caller holds as the last one applied to this generation (its position). */
  readonly after: number;
  /** Input rows read per call at most (at least one commit is applied). Default MAX_ROWS_PER_CALL. */
  readonly maxRows?: number;
}

export interface AppliedCommits extends AppliedCommit {
  /** The last commit applied: the watermark moved to it. */
  readonly appliedUpTo: number;
  /** Commits applied (a prefix of `seqs`). */
  readonly commits: number;
  /** Committed rows read. written + skipped + refused = rowsRead. */
  readonly rowsRead: number;
}

/** Where an interrupted apply resumes: rows of the reduction already written, while the same Redis process is there. */
interface ApplyPosition {
  readonly written: number;
  readonly redis?: string;
}

/**
 * Input rows read into one call at most: the Arrow buffers of that many rows (about 100-200 bytes
 * each for ten features) plus one map entry per entity are what the call holds.
 */
export const MAX_ROWS_PER_CALL = 2_000_000;

/** Winning rows converted and handed to the online store at a time. */
const CHUNK_ROWS = 5000;

/**
 * Applies a run of pending commits to an online generation at once: reads each committed row once,
 * keeps the newest row of each entity over all of them (newest-per-entity.ts; rows past their
 * commit's future limit refused), writes only those with the monotonic write, then, only if the
 * generation is still there, moves Redis' applied marker and the watermark to the last commit.
 *
 * Same outcome as applying the commits one by one (applyCommit): the monotonic write keeps the
 * greatest (event time, created time) of what Redis holds and what is written, and the reduction
 * only drops rows that a newer row of the same batch would have replaced. Rows reduced away count
 * as skipped. A retry (same Redis) re-reads its commits and resumes writing after the rows its
 * last heartbeat reported; the reduction is deterministic, so it skips exactly those.
 *
 * @example
 *   await applyCommits({ project: 'fraud', view: 'user_spend', version: 1, generation: 1, seqs: [7, 9, 12], after: 5 })
 *   // => { appliedUpTo: 12, commits: 3, watermark: 12, rowsRead: 3000, written: 1000, skipped: 2000, refused: 0 }
 */
export function applyCommits(deps: ActivityDeps) {
  return async function applyCommits(input: ApplyCommitsInput): Promise<AppliedCommits> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    const commits = await commitsToApply(deps, input);
    const last = commits.at(-1)!;
    const target = onlineTarget(input, view, input.generation);
    const redis = await deps.online.instanceId();
    await checkRedisHoldsWatermark(deps, input, target);
    const previous = lastHeartbeat<ApplyPosition>();
    const resumeFrom = previous?.redis === redis ? previous.written : 0;
    if (previous && previous.redis !== redis) {
      log.warn(`Redis restarted since the last attempt: re-applying commits ${commits[0]!.seq}..${last.seq} of '${input.view}' v${input.version} from their start`);
    }
    let position: ApplyPosition = { written: resumeFrom, redis };
    const counts = { written: 0, skipped: 0, refused: 0 };
    const newest = new NewestPerEntity(view);

    await withHeartbeat(
      async () => {
        for await (const { table, valid } of tablesOfCommits(deps.offline, commits, deps.maxFutureSkewMs)) {
          counts.refused += newest.add(table, valid);
        }
        counts.skipped += newest.rowsRead - counts.refused - newest.entities;

        let chunks = 0;
        for await (const { rows, done } of newest.rowChunks(CHUNK_ROWS, resumeFrom)) {
          const result = await deps.online.writeRows(target, rows);
          counts.written += result.written;
          // Rows already past their expiry are not kept: for the watermark they count as skipped.
          counts.skipped += result.skipped + result.expired;
          position = { written: done, redis };
          if (++chunks === 1) failpoint('mid-online-apply');
        }
        // Rows an earlier attempt wrote are not recounted: they count as skipped.
        counts.skipped += Math.min(resumeFrom, newest.entities);
      },
      () => position,
    );

    if ((await deps.online.instanceId()) !== redis) {
      // Writes acknowledged before the restart may be gone: the next attempt starts over.
      throw new Error(`Redis restarted while commits ${commits[0]!.seq}..${last.seq} of '${input.view}' v${input.version} were being applied`);
    }
    if ((await deps.online.recordApplied(target, last.seq)) === null) {
      // A generation retired and dropped by a rebuild meanwhile is not a Redis loss.
      await checkGenerationLive(registry, input);
      throw redisDataLost(input, input.generation, await registry.watermark(input.view, input.version, input.generation));
    }
    failpoint('before-watermark');
    const watermark = await registry.advanceWatermark(input.view, input.version, input.generation, last.seq);
    if (counts.refused > 0) {
      log.warn(`commits ${commits[0]!.seq}..${last.seq} of '${input.view}' v${input.version}: ${counts.refused} row(s) refused, their event or created time is later than the commit's time + the skew (ingest.maxFutureSkew)`);
    }
    return { watermark, appliedUpTo: last.seq, commits: commits.length, rowsRead: newest.rowsRead, ...counts };
  };
}

/** The commits named by `seqs`, in order, cut after the input-row budget (at least one). */
async function commitsToApply(deps: ActivityDeps, input: ApplyCommitsInput): Promise<Commit[]> {
  const first = input.seqs[0];
  if (first === undefined) throw ApplicationFailure.nonRetryable(`applyCommits for feature view '${input.view}' v${input.version} got no commit`);
  const found = await deps.registry(input.project).commits(input.view, input.version, { after: first - 1, upTo: input.seqs.at(-1)! });
  const bySeq = new Map(found.map((c) => [c.seq, c]));
  const maxRows = input.maxRows ?? MAX_ROWS_PER_CALL;
  const commits: Commit[] = [];
  let rows = 0;
  for (const seq of input.seqs) {
    const commit = bySeq.get(seq);
    if (!commit) throw ApplicationFailure.nonRetryable(`commit ${seq} of feature view '${input.view}' v${input.version} does not exist`);
    const commitRows = commit.objects.reduce((sum, o) => sum + o.rowCount, 0);
    if (commits.length > 0 && rows + commitRows > maxRows) break;
    commits.push(commit);
    rows += commitRows;
  }
  return commits;
}
