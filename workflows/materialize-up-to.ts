import { proxyActivities, sleep } from '@temporalio/workflow';
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
 * Hands commits up to `seq` to the view's materialization workflow and waits until the
 * watermark has reached `seq`. Asking again whenever no run is going closes the race where a
 * run was finishing just as the request came.
 */
export async function materializeUpTo(ref: ViewRef, seq: number): Promise<MaterializedUpTo> {
  let delay = 500;
  for (;;) {
    const state = await materializationState(ref, seq);
    if (state.reached) return { materialized: true };
    if (state.failure) return { materialized: false, reason: state.failure };
    if (!state.running) await requestMaterialization(ref);
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}
