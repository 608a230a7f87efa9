import { ApplicationFailure } from '@temporalio/activity';
import { tableToOnlineRows } from '../stores/offline/row-conversion.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { failpoint } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';
import { redisDataLost } from './prepare-materialization.ts';
import { onlineTarget, registeredView } from './registered-view.ts';

export interface ApplyCommitInput extends ViewRef {
  readonly generation: number;
  readonly seq: number;
}

export interface AppliedCommit {
  readonly watermark: number;
  readonly written: number;
  readonly skipped: number;
}

/** Where an interrupted apply resumes: the object, and the row group inside it. */
interface ApplyPosition {
  readonly object: number;
  readonly rowGroup: number;
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
    let position: ApplyPosition = lastHeartbeat<ApplyPosition>() ?? { object: 0, rowGroup: 0 };
    let written = 0;
    let skipped = 0;
    let chunks = 0;

    await withHeartbeat(
      async () => {
        for (let i = position.object; i < commit.objects.length; i++) {
          const key = commit.objects[i]!.key;
          const fromRowGroup = i === position.object ? position.rowGroup : 0;
          for await (const { rowGroup, table } of deps.offline.readTable(key, { fromRowGroup })) {
            for (let start = 0; start < table.numRows; start += CHUNK_ROWS) {
              const rows = tableToOnlineRows(view, table, start, Math.min(start + CHUNK_ROWS, table.numRows));
              const result = await deps.online.writeRows(target, rows);
              written += result.written;
              // Rows already past their expiry are not kept: for the watermark they count as skipped.
              skipped += result.skipped + result.expired;
              if (++chunks === 1) failpoint('mid-online-apply');
            }
            position = { object: i, rowGroup: rowGroup + 1 };
          }
          position = { object: i + 1, rowGroup: 0 };
        }
      },
      () => position,
    );

    if (!(await deps.online.hasGenerationMarker(target))) {
      throw redisDataLost(input, input.generation, await registry.watermark(input.view, input.version, input.generation));
    }
    failpoint('before-watermark');
    const watermark = await registry.advanceWatermark(input.view, input.version, input.generation, input.seq);
    return { watermark, written, skipped };
  };
}
