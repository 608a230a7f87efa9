/**
 * The state of one measured value against its objective: ok, warn (halfway there), alert. For a
 * maximum (PSI, KS) warn starts at half the objective (PSI 0.1-0.2 is the field's "moderate
 * shift"); for a minimum share (completeness) warn starts when half the allowed missing share is
 * used; freshness warns once the newest event is older than the TTL and alerts past TTL +
 * threshold (`warnAt` and `objective` given by the caller).
 *
 * @example
 *   stateOf({ kind: 'max', value: 0.15, objective: 0.2 }) // => 'warn'
 *   stateOf({ kind: 'min', value: 0.9, objective: 0.95 }) // => 'alert'
 */
export type MonitorState = 'ok' | 'warn' | 'alert';

export const MONITOR_STATES: readonly MonitorState[] = ['ok', 'warn', 'alert'];

export type Bound =
  | { readonly kind: 'max'; readonly value: number; readonly objective: number; readonly warnAt?: number }
  | { readonly kind: 'min'; readonly value: number; readonly objective: number; readonly warnAt?: number };

export function stateOf(bound: Bound): MonitorState {
  if (bound.kind === 'max') {
    if (bound.value > bound.objective) return 'alert';
    return bound.value > (bound.warnAt ?? bound.objective / 2) ? 'warn' : 'ok';
  }
  if (bound.value < bound.objective) return 'alert';
  return bound.value < (bound.warnAt ?? 1 - (1 - bound.objective) / 2) ? 'warn' : 'ok';
}

/** The worst of several states. */
export function worstState(states: readonly MonitorState[]): MonitorState {
  return states.reduce<MonitorState>((worst, s) => (MONITOR_STATES.indexOf(s) > MONITOR_STATES.indexOf(worst) ? s : worst), 'ok');
}
