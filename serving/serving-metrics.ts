import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FEATURE_STATUSES, type FeatureStatus } from './feature-status.ts';
import type { OnlineViewState } from './online-state-monitor.ts';
import type { ViewFreshnessFigures } from './view-freshness.ts';

/**
 * The feature server's Prometheus metrics, on a registry of its own (several servers in one
 * process do not mix):
 *
 *   granary_serving_request_duration_seconds{endpoint, feature_service}  histogram
 *   granary_serving_requests_total{endpoint, status}                     HTTP status codes
 *   granary_serving_feature_values_total{status}                         PRESENT, NOT_FOUND, ...
 *   granary_serving_redis_errors_total                                   failed online reads
 *   granary_serving_registry_errors_total                                failed registry reads
 *   granary_view_newest_row_age_seconds{view, version}                   now - newest online event time
 *   granary_view_watermark_age_seconds{view, version}                    now - watermark commit time
 *   granary_view_watermark_seq{view, version, generation}                the watermark itself
 *   granary_online_state{project, view, version}                         1: Redis holds the active generation; 0: lost
 *   granary_view_freshness_seconds{project, view, source}                monitoring: age of the newest event (commit-log, online)
 *   granary_feature_completeness{project, view, feature, source}         monitoring: non-null share (online-sample, window, served)
 *   granary_feature_psi{project, view, feature}                          monitoring: PSI against the baseline
 *   granary_feature_ks{project, view, feature}                           monitoring: KS statistic against the baseline
 *   granary_service_skew_mismatches{project, feature_service}             monitoring: true mismatches of the last skew run
 *   granary_service_latency_p99_seconds{project, feature_service}         monitoring: p99 from every replica's counters
 *   granary_monitor_objective{project, view, feature, metric}            the objective each of those is held to
 *   granary_monitor_state{project, view, feature, metric}                0 ok, 1 warn, 2 alert (a feature service's skew and
 *                                                                        latency_p99: view = the service's name)
 *
 * The monitoring gauges show the latest results the monitoring workflow stored in the registry
 * (monitoring/), read at each scrape from `watchMonitoring(read)` when one is given.
 *
 * plus Node's default process metrics. `feature_service` is empty for requests by feature list.
 *
 * @example
 *   const metrics = new ServingMetrics();
 *   metrics.requestDuration.observe({ endpoint: '/get-online-features', feature_service: 'fraud_v1' }, 0.0012);
 *   await metrics.registry.metrics() // => '# HELP granary_serving_request_duration_seconds ...'
 */
export class ServingMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'granary_serving_request_duration_seconds',
    help: 'Feature server request latency, by endpoint and feature service',
    labelNames: ['endpoint', 'feature_service'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'granary_serving_requests_total',
    help: 'Feature server requests, by endpoint and HTTP status',
    labelNames: ['endpoint', 'status'] as const,
    registers: [this.registry],
  });
  readonly featureValues = new Counter({
    name: 'granary_serving_feature_values_total',
    help: 'Served feature values, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'granary_serving_redis_errors_total',
    help: 'Online store (Redis) calls that failed',
    registers: [this.registry],
  });
  readonly registryErrors = new Counter({
    name: 'granary_serving_registry_errors_total',
    help: 'Registry (PostgreSQL) reads that failed',
    registers: [this.registry],
  });
  readonly newestRowAge = new Gauge({
    name: 'granary_view_newest_row_age_seconds',
    help: 'Age of the newest online row of each view (newest event time committed up to the watermark)',
    labelNames: ['view', 'version'] as const,
    registers: [this.registry],
  });
  readonly watermarkAge = new Gauge({
    name: 'granary_view_watermark_age_seconds',
    help: 'Time since the commit at the watermark of each view was made',
    labelNames: ['view', 'version'] as const,
    registers: [this.registry],
  });
  readonly watermarkSeq = new Gauge({
    name: 'granary_view_watermark_seq',
    help: 'The watermark (commit seq materialized) of the active generation of each view',
    labelNames: ['view', 'version', 'generation'] as const,
    registers: [this.registry],
  });

  readonly onlineState = new Gauge({
    name: 'granary_online_state',
    help: 'Whether Redis holds the active online generation of each view (its marker): 1 ok, 0 lost (reads are NOT_FOUND until a rebuild)',
    labelNames: ['project', 'view', 'version'] as const,
    registers: [this.registry],
  });

  readonly viewFreshness = new Gauge({
    name: 'granary_view_freshness_seconds',
    help: 'Monitoring: now - the newest event time, from the commit log (source=commit-log) and up to the online watermark (source=online)',
    labelNames: ['project', 'view', 'source'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly featureCompleteness = new Gauge({
    name: 'granary_feature_completeness',
    help: 'Monitoring: share of non-null values, among a sample of online rows (source=online-sample), in the distribution window (source=window), among served lookups (source=served)',
    labelNames: ['project', 'view', 'feature', 'source'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly featurePsi = new Gauge({
    name: 'granary_feature_psi',
    help: 'Monitoring: population stability index of the last window against the baseline',
    labelNames: ['project', 'view', 'feature'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly featureKs = new Gauge({
    name: 'granary_feature_ks',
    help: 'Monitoring: two-sample Kolmogorov-Smirnov statistic of the last window against the baseline',
    labelNames: ['project', 'view', 'feature'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly serviceSkew = new Gauge({
    name: 'granary_service_skew_mismatches',
    help: 'Monitoring: served values of the last skew run that no training set for the same entity and time holds (true mismatches; lag counted apart)',
    labelNames: ['project', 'feature_service'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly serviceLatencyP99 = new Gauge({
    name: 'granary_service_latency_p99_seconds',
    help: "Monitoring: p99 latency of the feature service's responses over the last minutes, from every server replica's counters",
    labelNames: ['project', 'feature_service'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly monitorObjective = new Gauge({
    name: 'granary_monitor_objective',
    help: 'Monitoring: the objective each monitored value is held to (a maximum, or a minimum for completeness)',
    labelNames: ['project', 'view', 'feature', 'metric'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });
  readonly monitorState = new Gauge({
    name: 'granary_monitor_state',
    help: 'Monitoring: state of each monitored value, 0 ok, 1 warn, 2 alert',
    labelNames: ['project', 'view', 'feature', 'metric'] as const,
    registers: [this.registry],
    collect: () => this.refreshMonitoring(),
  });

  constructor(options: { readonly defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    for (const status of FEATURE_STATUSES) this.featureValues.inc({ status }, 0);
    this.redisErrors.inc(0);
    this.registryErrors.inc(0);
  }

  private readonly durationOf = new Map<string, { observe(seconds: number): void }>();
  private readonly requestsOf = new Map<string, { inc(): void }>();

  /** One request's latency, by endpoint and feature service (the labelled child kept: no label hashing per request). */
  observeDuration(endpoint: string, featureService: string, seconds: number): void {
    const key = `${endpoint} ${featureService}`;
    let child = this.durationOf.get(key);
    if (!child) {
      if (this.durationOf.size >= MAX_CACHED_CHILDREN) this.durationOf.clear();
      child = this.requestDuration.labels({ endpoint, feature_service: featureService });
      this.durationOf.set(key, child);
    }
    child.observe(seconds);
  }

  /** One request counted by endpoint and HTTP status (the labelled child kept). */
  countRequest(endpoint: string, status: number): void {
    const key = `${endpoint} ${status}`;
    let child = this.requestsOf.get(key);
    if (!child) {
      if (this.requestsOf.size >= MAX_CACHED_CHILDREN) this.requestsOf.clear();
      child = this.requests.labels({ endpoint, status: String(status) });
      this.requestsOf.set(key, child);
    }
    child.inc();
  }

  countStatuses(counts: Readonly<Record<FeatureStatus, number>>): void {
    for (const status of FEATURE_STATUSES) if (counts[status] > 0) this.featureValues.inc({ status }, counts[status]);
  }

  setOnlineState(project: string, states: readonly Pick<OnlineViewState, 'view' | 'version' | 'state'>[]): void {
    this.onlineState.reset();
    for (const s of states) this.onlineState.set({ project, view: s.view, version: String(s.version) }, s.state === 'ok' ? 1 : 0);
  }

  /** Shows the latest monitoring results (replacing the ones shown before). */
  setMonitoring(project: string, results: readonly MonitoringFigure[]): void {
    for (const g of [this.viewFreshness, this.featureCompleteness, this.featurePsi, this.featureKs, this.serviceSkew, this.serviceLatencyP99, this.monitorObjective, this.monitorState]) {
      g.reset();
    }
    for (const r of results) {
      const value = Number.isFinite(r.value) && r.value < Number.MAX_VALUE ? r.value : Number.POSITIVE_INFINITY;
      if (r.metric === 'freshness' || r.metric === 'online_freshness') {
        this.viewFreshness.set({ project, view: r.view, source: r.metric === 'freshness' ? 'commit-log' : 'online' }, value);
      } else if (r.metric === 'completeness' || r.metric === 'window_completeness' || r.metric === 'served_completeness') {
        const source = r.metric === 'completeness' ? 'online-sample' : r.metric === 'served_completeness' ? 'served' : 'window';
        this.featureCompleteness.set({ project, view: r.view, feature: r.feature, source }, value);
      } else if (r.metric === 'psi') this.featurePsi.set({ project, view: r.view, feature: r.feature }, value);
      else if (r.metric === 'ks') this.featureKs.set({ project, view: r.view, feature: r.feature }, value);
      // A feature service's results carry its name in `view` (version 0).
      else if (r.metric === 'skew') this.serviceSkew.set({ project, feature_service: r.view }, value);
      else if (r.metric === 'latency_p99') this.serviceLatencyP99.set({ project, feature_service: r.view }, value / 1000);
      const labels = { project, view: r.view, feature: r.feature, metric: r.metric };
      this.monitorObjective.set(labels, r.objective);
      this.monitorState.set(labels, r.state === 'alert' ? 2 : r.state === 'warn' ? 1 : 0);
    }
  }

  /**
   * Reads the latest monitoring results at every scrape (a failed read keeps what was shown and
   * counts a registry error).
   */
  watchMonitoring(project: string, read: () => Promise<readonly MonitoringFigure[]>): void {
    this.monitorRead = async () => {
      try {
        this.setMonitoring(project, await read());
      } catch {
        this.registryErrors.inc();
      }
    };
  }

  private monitorRead: (() => Promise<void>) | undefined;
  private monitorReading: Promise<void> | undefined;

  /** One read per scrape, shared by the monitoring gauges (prom-client collects them side by side). */
  private refreshMonitoring(): Promise<void> | undefined {
    if (!this.monitorRead) return undefined;
    this.monitorReading ??= this.monitorRead().finally(() => {
      this.monitorReading = undefined;
    });
    return this.monitorReading;
  }

  setFreshness(figures: readonly ViewFreshnessFigures[], now = Date.now()): void {
    this.newestRowAge.reset();
    this.watermarkAge.reset();
    this.watermarkSeq.reset();
    for (const f of figures) {
      const labels = { view: f.view, version: String(f.version) };
      this.watermarkSeq.set({ ...labels, generation: String(f.generation) }, f.watermark);
      if (f.newestEventTime !== null) this.newestRowAge.set(labels, Math.max(0, (now - f.newestEventTime) / 1000));
      if (f.watermarkCommittedAt !== null) this.watermarkAge.set(labels, Math.max(0, (now - f.watermarkCommittedAt) / 1000));
    }
  }
}

/** Labelled metric children kept per label set at most; beyond, the cache starts over (a bound on memory, not on the metrics). */
const MAX_CACHED_CHILDREN = 1000;

/** One monitoring result as the gauges show it. */
export interface MonitoringFigure {
  readonly view: string;
  readonly metric: string;
  readonly feature: string;
  readonly value: number;
  readonly objective: number;
  readonly state: 'ok' | 'warn' | 'alert';
}
