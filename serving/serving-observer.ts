import type { OnlineFeatureColumns } from './online-features.ts';

/**
 * What the feature server tells observers of its reads (the skew sample log, the shared serving
 * counters): called synchronously after a read and after each response, never awaited, so an
 * observer must only note what it is given (a push, a few additions) and do its I/O later, off
 * the request's path.
 *
 * @example
 *   const server = new FeatureServer({ ..., observers: [new ServingSampleLog({ offline, project }), counters] });
 */
export interface ServedRead {
  /** The feature service read; '' for a request by feature list. */
  readonly featureService: string;
  /** When the request arrived (ms since epoch). */
  readonly requestTime: number;
  /** What was answered, column by column (not copied: an observer must not change it). */
  readonly table: OnlineFeatureColumns;
}

export interface ServingObserver {
  /** A read was answered. */
  served?(read: ServedRead): void;
  /** A read's response was sent, `seconds` after the request arrived. */
  timed?(featureService: string, seconds: number): void;
  /** Writes what is pending and stops (the server's close()). */
  close?(): Promise<void>;
}

/** Tells each observer of a read; an observer's exception is swallowed (a read never fails for it). */
export function notifyServed(observers: readonly ServingObserver[], read: ServedRead): void {
  for (const o of observers) {
    try {
      o.served?.(read);
    } catch {
      // Observing is best effort.
    }
  }
}

/** Tells each observer of a response's duration. */
export function notifyTimed(observers: readonly ServingObserver[], featureService: string, seconds: number): void {
  for (const o of observers) {
    try {
      o.timed?.(featureService, seconds);
    } catch {
      // Observing is best effort.
    }
  }
}
