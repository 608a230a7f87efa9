/**
 * Monitoring results and distribution baselines in the registry (tables of schema step 5): every
 * result is kept with its time, so history reads back; the latest per (view, metric, feature) is
 * what `granary monitor` and the gauges show. Recording returns the state each result had before,
 * so a caller notifies on state changes.
 *
 * @example
 *   const changes = await results.record('run-1', [{ view: 'user_spend', version: 1, metric: 'psi', feature: 'spend',
 *     value: 0.31, objective: 0.2, state: 'alert', detail: {}, measuredAt: new Date() }]);
 *   changes[0].previousState // => 'ok' (or null the first time)
 */
export type MonitorStateName = 'ok' | 'warn' | 'alert';

export interface MonitorResult {
  readonly view: string;
  readonly version: number;
  /** freshness, online_freshness, completeness, window_completeness, psi, ks */
  readonly metric: string;
  /** '' for a view's own metrics. */
  readonly feature: string;
  readonly value: number;
  readonly objective: number;
  readonly state: MonitorStateName;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly measuredAt: Date;
}

export interface RecordedResult extends MonitorResult {
  /** The state of the latest earlier result of the same view, metric and feature; null for the first. */
  readonly previousState: MonitorStateName | null;
}

/** Baseline bins of one feature: decile edges and shares (numeric) or category shares. */
export type BaselineBins =
  | { readonly kind: 'numeric'; readonly edges: readonly number[]; readonly shares: readonly number[] }
  | { readonly kind: 'categorical'; readonly categories: readonly string[]; readonly shares: readonly number[] };

export interface Baseline {
  readonly view: string;
  readonly version: number;
  readonly feature: string;
  readonly start: Date;
  readonly end: Date;
  /** The baseline's rows: commits up to this seq, event time in [start, end). */
  readonly upToSeq: number;
  readonly rowCount: number;
  readonly nullCount: number;
  readonly bins: BaselineBins;
  /**
   * Set when the baseline was binned from a training-set Parquet file (`--from-file`): the file's
   * copy in the offline store, whose rows KS reads again (start, end and upToSeq are then the
   * file's event-time range, if it has one, and 0).
   */
  readonly file?: string;
}

export interface MonitorResults {
  /**
   * Stores the results of one run, once per run id (a retry writes nothing twice), each returned
   * with the state before this run: a retry reports the same changes again (notifications are
   * at least once).
   */
  record(runId: string, results: readonly MonitorResult[]): Promise<RecordedResult[]>;
  /** The latest result of each (view, version, metric, feature), of the given views (all when empty). */
  latest(views?: readonly string[]): Promise<MonitorResult[]>;
  /** Results of one view and metric, newest first. */
  history(view: string, metric: string, options?: { readonly feature?: string; readonly limit?: number }): Promise<MonitorResult[]>;
  /** Replaces the baseline of each feature given. */
  saveBaselines(baselines: readonly Baseline[]): Promise<void>;
  baselines(view: string, version: number): Promise<Baseline[]>;
}
