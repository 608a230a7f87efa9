import type { Baseline, BaselineBins, MonitorResult, MonitorResults, MonitorStateName, RecordedResult } from './monitor-results.ts';
import { PostgresPool } from './postgres-pool.ts';
import { withTransaction } from './with-transaction.ts';

/**
 * MonitorResults in the registry's PostgreSQL, for one project, on a small pool of its own (the
 * registry's schema must be migrated first: `registry.migrate()`).
 *
 * @example
 *   const results = new PostgresMonitorResults({ url: config.registry.url, project: 'fraud' });
 *   await results.latest(['user_spend']) // => [{ view: 'user_spend', metric: 'freshness', state: 'ok', ... }]
 *   await results.close();
 */
export class PostgresMonitorResults extends PostgresPool implements MonitorResults {
  constructor(private readonly options: { readonly url: string; readonly project: string; readonly maxConnections?: number }) {
    super(options.url, { maxConnections: options.maxConnections ?? 2, applicationName: 'granary-monitor' });
  }

  get project(): string {
    return this.options.project;
  }

  async record(runId: string, results: readonly MonitorResult[]): Promise<RecordedResult[]> {
    if (results.length === 0) return [];
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        const views = [...new Set(results.map((r) => r.view))];
        const before = await client.query<{ view: string; version: number; metric: string; feature: string; state: MonitorStateName }>(
          `SELECT DISTINCT ON (view, version, metric, feature) view, version, metric, feature, state
             FROM granary_monitor_results WHERE project = $1 AND view = ANY($2::text[]) AND run_id <> $3
            ORDER BY view, version, metric, feature, measured_at DESC, id DESC`,
          [this.project, views, runId],
        );
        const previous = new Map(before.rows.map((r) => [keyOf(r), r]));
        const out: RecordedResult[] = [];
        for (const r of results) {
          const prior = previous.get(keyOf(r));
          await client.query(
            `INSERT INTO granary_monitor_results (project, view, version, metric, feature, value, objective, state, detail, run_id, measured_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (project, run_id, view, version, metric, feature) DO NOTHING`,
            [this.project, r.view, r.version, r.metric, r.feature, r.value, r.objective, r.state, JSON.stringify(r.detail), runId, r.measuredAt],
          );
          out.push({ ...r, previousState: prior?.state ?? null });
        }
        return out;
      }),
    );
  }

  async latest(views: readonly string[] = []): Promise<MonitorResult[]> {
    const { rows } = await this.run(() =>
      this.pool.query<ResultRow>(
        `SELECT DISTINCT ON (view, version, metric, feature) view, version, metric, feature, value, objective, state, detail, measured_at
           FROM granary_monitor_results WHERE project = $1 AND (cardinality($2::text[]) = 0 OR view = ANY($2::text[]))
          ORDER BY view, version, metric, feature, measured_at DESC, id DESC`,
        [this.project, [...views]],
      ),
    );
    return rows.map(resultOf);
  }

  async history(view: string, metric: string, options: { readonly feature?: string; readonly limit?: number } = {}): Promise<MonitorResult[]> {
    const { rows } = await this.run(() =>
      this.pool.query<ResultRow>(
        `SELECT view, version, metric, feature, value, objective, state, detail, measured_at FROM granary_monitor_results
          WHERE project = $1 AND view = $2 AND metric = $3 AND ($4::text IS NULL OR feature = $4)
          ORDER BY measured_at DESC, id DESC LIMIT $5`,
        [this.project, view, metric, options.feature ?? null, options.limit ?? 100],
      ),
    );
    return rows.map(resultOf);
  }

  async saveBaselines(baselines: readonly Baseline[]): Promise<void> {
    await this.run(() =>
      withTransaction(this.pool, async (client) => {
        for (const b of baselines) {
          await client.query(
            `INSERT INTO granary_monitor_baselines (project, view, version, feature, kind, start_time, end_time, up_to_seq, row_count, null_count, bins)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (project, view, version, feature) DO UPDATE SET kind = EXCLUDED.kind, start_time = EXCLUDED.start_time,
               end_time = EXCLUDED.end_time, up_to_seq = EXCLUDED.up_to_seq, row_count = EXCLUDED.row_count,
               null_count = EXCLUDED.null_count, bins = EXCLUDED.bins, created_at = now()`,
            [this.project, b.view, b.version, b.feature, b.bins.kind, b.start, b.end, b.upToSeq, b.rowCount, b.nullCount, JSON.stringify(b.file ? { ...b.bins, file: b.file } : b.bins)],
          );
        }
      }),
    );
  }

  async baselines(view: string, version: number): Promise<Baseline[]> {
    const { rows } = await this.run(() =>
      this.pool.query<{ view: string; version: number; feature: string; start_time: Date; end_time: Date; up_to_seq: string; row_count: string; null_count: string; bins: BaselineBins }>(
        `SELECT view, version, feature, start_time, end_time, up_to_seq, row_count, null_count, bins FROM granary_monitor_baselines
          WHERE project = $1 AND view = $2 AND version = $3 ORDER BY feature`,
        [this.project, view, version],
      ),
    );
    // A file baseline's key rides in the bins' JSON (no schema change).
    return rows.map((r) => {
      const { file, ...bins } = r.bins as BaselineBins & { file?: string };
      return {
        view: r.view,
        version: r.version,
        feature: r.feature,
        start: r.start_time,
        end: r.end_time,
        upToSeq: Number(r.up_to_seq),
        rowCount: Number(r.row_count),
        nullCount: Number(r.null_count),
        bins: bins as BaselineBins,
        ...(file ? { file } : {}),
      };
    });
  }

}

interface ResultRow {
  view: string;
  version: number;
  metric: string;
  feature: string;
  value: number;
  objective: number;
  state: MonitorStateName;
  detail: Record<string, unknown>;
  measured_at: Date;
}

function resultOf(r: ResultRow): MonitorResult {
  return { view: r.view, version: r.version, metric: r.metric, feature: r.feature, value: r.value, objective: r.objective, state: r.state, detail: r.detail, measuredAt: r.measured_at };
}

function keyOf(r: { view: string; version: number; metric: string; feature: string }): string {
  return `${r.view}\u0000${r.version}\u0000${r.metric}\u0000${r.feature}`;
}
