/**
 * Materialization watermarks: per view version and online generation, the last commit seq applied
 * to it; they only move forward (invariant 2).
 */
export interface Watermarks {
  /** The last commit seq applied to that generation; 0 when none. */
  watermark(view: string, version: number, generation: number): Promise<number>;
  /** Moves the watermark to seq if that is forward; returns the watermark after. */
  advanceWatermark(view: string, version: number, generation: number, seq: number): Promise<number>;
}
