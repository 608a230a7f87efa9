import { patched, proxyActivities, sleep } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { shortActivity } from './activity-options.ts';
import type { ViewRef } from './contracts.ts';

const { requestMaterialization, materializationState } = proxyActivities<ReturnType<typeof activities.createActivities>>(shortActivity);

export interface MaterializedUpTo {
  readonly materialized: boolean;
  /** Why not, when the materialization failed for good (e.g. Redis lost its data). */
  readonly reason?: string;
}

/**
 * Workflow version (`patched`): the request goes to the materialization workflow at once
 * (signal-with-start: a run in its last wait for late commits takes the commit instead of
 * finishing without it), and the first look at the watermark comes 200 ms later; runs of older
 * code looked first, asked only when no run was going, and waited 500 ms. Measured with
 * `npm run bench -- freshness`: a commit landing in a run's last wait then waited for that run to
 * end and a new one to start (32 of 200 batches, about 1 s more each).
 */
export const REQUEST_MATERIALIZATION_FIRST = 'request-materialization-first';

/**
 * Hands commits up to `seq` to the view's materialization workflow and waits until the
 * watermark has reached `seq`. Asking again whenever no run is going closes the race where a
 * run was finishing just as the request came.
 */
export async function materializeUpTo(ref: ViewRef, seq: number): Promise<MaterializedUpTo> {
  // Before the patch the first look came at once and the next 500 ms later.
  const requestFirst = patched(REQUEST_MATERIALIZATION_FIRST);
  if (requestFirst) {
    await requestMaterialization(ref);
    await sleep(200);
  }
  let delay = requestFirst ? 200 : 500;
  for (;;) {
    const state = await materializationState(ref, seq);
    if (state.reached) return { materialized: true };
    if (state.failure) return { materialized: false, reason: state.failure };
    if (!state.running) await requestMaterialization(ref);
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}
