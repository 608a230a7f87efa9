import { ApplicationFailure, log } from '@temporalio/activity';
import type { OnlineTarget } from '../stores/online/online-store.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { failureTypes } from '../workflows/contracts.ts';
import { futureLimit, isFutureRow } from '../pipelines/future-event-time.ts';
import { tableToOnlineRows } from '../pipelines/row-conversion.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';
import { redisDataLost } from './prepare-materialization.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';

export interface ApplyCommitInput extends ViewRef {
  readonly generation: number;
  readonly seq: number;
  /** The commit the caller holds as the last one applied to this generation (its position). */
  readonly after: number;
}

export interface AppliedCommit {
  readonly watermark: number;
  readonly written: number;
  readonly skipped: number;
  /** Rows with a time later than the commit's time + the skew: invalid, not written (future-event-time.ts). */
  readonly refused?: number;
}

/**
 * Where an interrupted apply resumes: the object, and the row group inside it, as long as the
 * same Redis process is there (a restarted Redis may have lost the rows written before it).
 */
interface ApplyPosition {
  readonly object: number;
  readonly rowGroup: number;
  readonly redis?: string;
}

/** Rows handed to the online store at a time. */
const CHUNK_ROWS = 5000;

/**
 * Applies one commit to an online generation, object by object and row group by row group,
 * heartbeating its position so a retry resumes there; then, only if the generation is still
 * there, moves the watermark to the commit. Replaying any part is harmless: online writes are
 * monotonic and idempotent.
 */
export function applyCommit(deps: ActivityDeps) {
  return async function applyCommit(input: ApplyCommitInput): Promise<AppliedCommit> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    const [commit] = await registry.commits(input.view, input.version, { after: input.seq - 1, upTo: input.seq });
    if (!commit || commit.seq !== input.seq) {
      throw ApplicationFailure.nonRetryable(`commit ${input.seq} of feature view '${input.view}' v${input.version} does not exist`);
    }
    const target = onlineTarget(input, view, input.generation);
    const redis = await deps.online.instanceId();
    await checkRedisHoldsWatermark(deps, input, target);
    const last = lastHeartbeat<ApplyPosition>();
    let position: ApplyPosition = last?.redis === redis ? last : { object: 0, rowGroup: 0, redis };
    if (last && last.redis !== redis) {
      log.warn(`Redis restarted since the last attempt: re-applying commit ${input.seq} of '${input.view}' v${input.version} from its start`);
    }
    let written = 0;
    let skipped = 0;
    let refused = 0;
    let chunks = 0;
    const limit = futureLimit(commit.committedAt, deps.maxFutureSkewMs);

    await withHeartbeat(
      async () => {
        for (let i = position.object; i < commit.objects.length; i++) {
          const key = commit.objects[i]!.key;
          const fromRowGroup = i === position.object ? position.rowGroup : 0;
          for await (const { rowGroup, table } of deps.offline.readTable(key, { fromRowGroup })) {
            for (let start = 0; start < table.numRows; start += CHUNK_ROWS) {
              const all = tableToOnlineRows(view, table, start, Math.min(start + CHUNK_ROWS, table.numRows));
              const rows = all.filter((row) => !isFutureRow(row.eventTime, row.createdTime, limit));
              refused += all.length - rows.length;
              const result = await deps.online.writeRows(target, rows);
              written += result.written;
              // Rows already past their expiry are not kept: for the watermark they count as skipped.
              skipped += result.skipped + result.expired;
              if (++chunks === 1) failpoint('mid-online-apply');
            }
            position = { object: i, rowGroup: rowGroup + 1, redis };
          }
          position = { object: i + 1, rowGroup: 0, redis };
        }
      },
      () => position,
    );

    if ((await deps.online.instanceId()) !== redis) {
      // Writes acknowledged before the restart may be gone: the next attempt starts over.
      throw new Error(`Redis restarted while commit ${input.seq} of '${input.view}' v${input.version} was being applied`);
    }
    if ((await deps.online.recordApplied(target, input.seq)) === null) {
      // A generation retired and dropped by a rebuild meanwhile is not a Redis loss.
      await checkGenerationLive(registry, input);
      throw redisDataLost(input, input.generation, await registry.watermark(input.view, input.version, input.generation));
    }
    failpoint('before-watermark');
    const watermark = await registry.advanceWatermark(input.view, input.version, input.generation, input.seq);
    if (refused > 0) {
      log.warn(`commit ${input.seq} of '${input.view}' v${input.version}: ${refused} row(s) refused, their event or created time is later than the commit's time + the skew (ingest.maxFutureSkew)`);
    }
    return { watermark, written, skipped, refused };
  };
}

/**
 * Before writing: the generation's marker must be there, and must record every commit up to the
 * caller's position. A lower applied seq means Redis came back from an older snapshot and the
 * commits in between are gone; the workflow starts again from what Redis holds.
 */
export async function checkRedisHoldsWatermark(deps: ActivityDeps, input: ViewRef & { readonly generation: number; readonly after: number }, target: OnlineTarget): Promise<void> {
  const registry = deps.registry(input.project);
  await checkGenerationLive(registry, input);
  const applied = await deps.online.appliedSeq(target);
  if (applied === null) throw redisDataLost(input, input.generation, await registry.watermark(input.view, input.version, input.generation));
  if (applied < input.after) {
    throw ApplicationFailure.nonRetryable(
      `online generation ${input.generation} of feature view '${input.view}' v${input.version} holds commits up to ${applied} ` +
        `but ${input.after} was applied: Redis came back from an older snapshot; the commits after ${applied} are applied again`,
      failureTypes.redisRolledBack,
      { applied },
    );
  }
}

/** Only the active generation, or one a rebuild is building, takes writes; a retired one means a rebuild cut over. */
export async function checkGenerationLive(registry: Registry, input: ViewRef & { readonly generation: number }): Promise<void> {
  const generation = (await registry.generations(input.view, input.version)).find((g) => g.generation === input.generation);
  if (generation?.state === 'active' || generation?.state === 'building') return;
  throw ApplicationFailure.nonRetryable(
    `online generation ${input.generation} of feature view '${input.view}' v${input.version} is ${generation?.state ?? 'unknown'}: ` +
      'a rebuild replaced it; materialization continues on the active generation',
    failureTypes.generationRetired,
  );
}
