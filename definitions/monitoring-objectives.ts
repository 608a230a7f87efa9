import { DefinitionError, type DefinitionLocation } from './definition-error.ts';
import { parseDurationSeconds, type Duration } from './duration.ts';
import { checkKnownKeys, checkObject, show } from './field-checks.ts';

/**
 * Monitoring objectives (SLOs) a feature view, a feature or a feature service may declare. Only
 * what is declared is kept (so a definition without `monitoring` keeps its spec and content
 * hash); `monitoring/objectives.ts` fills in the defaults every view gets without writing
 * anything: freshness threshold 2 h past the TTL (a hard alert), completeness 0.95, PSI 0.2, KS
 * 0.1, a distribution window of 1 day of event time, serving p99 10 ms per feature service.
 * Changing them is an additive change in `granary plan`.
 *
 * @example
 *   featureView({ ..., ttl: '1d', monitoring: { freshnessThreshold: '30m', psi: 0.25 },
 *     schema: [{ name: 'spend', type: 'float64', monitoring: { completeness: 0.99 } }] });
 *   featureService({ ..., monitoring: { latencyP99Ms: 5 } });
 */
export interface ViewMonitoringOptions {
  /** How long past the TTL the newest event may be before a hard alert (default '2h'). */
  freshnessThreshold?: Duration;
  /** Minimum share of non-null values (default 0.95). */
  completeness?: number;
  /** Maximum PSI against the baseline (default 0.2). */
  psi?: number;
  /** Maximum two-sample KS statistic against the baseline (default 0.1). */
  ks?: number;
  /** The window of event time compared with the baseline, ending at the newest event (default '1d'). */
  window?: Duration;
}

export interface FeatureMonitoringOptions {
  completeness?: number;
  psi?: number;
  ks?: number;
}

export interface ServiceMonitoringOptions {
  /** The p99 serving latency objective in milliseconds (default 10). */
  latencyP99Ms?: number;
}

/** The declared view objectives, durations in seconds. */
export interface ViewMonitoring {
  readonly freshnessThresholdSeconds?: number;
  readonly completeness?: number;
  readonly psi?: number;
  readonly ks?: number;
  readonly windowSeconds?: number;
}

export interface FeatureMonitoring {
  readonly completeness?: number;
  readonly psi?: number;
  readonly ks?: number;
}

export interface ServiceMonitoring {
  readonly latencyP99Ms?: number;
}

const VIEW_FIELDS = ['freshnessThreshold', 'completeness', 'psi', 'ks', 'window'];
const FEATURE_FIELDS = ['completeness', 'psi', 'ks'];
const SERVICE_FIELDS = ['latencyP99Ms'];

/** The view's `monitoring`, checked; undefined when not declared. */
export function checkViewMonitoring(where: DefinitionLocation, value: unknown): ViewMonitoring | undefined {
  if (value === undefined) return undefined;
  const at = { ...where, field: 'monitoring' };
  const raw = checkObject(at, value);
  checkKnownKeys(at, raw, VIEW_FIELDS);
  const out: Record<string, number> = {};
  if (raw.freshnessThreshold !== undefined) out.freshnessThresholdSeconds = checkDuration({ ...at, field: 'monitoring.freshnessThreshold' }, raw.freshnessThreshold, 0);
  if (raw.window !== undefined) out.windowSeconds = checkDuration({ ...at, field: 'monitoring.window' }, raw.window, 1);
  Object.assign(out, checkShares(at, raw));
  return Object.freeze(out);
}

/** A feature's `monitoring`, checked; undefined when not declared. */
export function checkFeatureMonitoring(where: DefinitionLocation, value: unknown): FeatureMonitoring | undefined {
  if (value === undefined) return undefined;
  const raw = checkObject(where, value);
  checkKnownKeys(where, raw, FEATURE_FIELDS);
  return Object.freeze(checkShares(where, raw));
}

/** A feature service's `monitoring`, checked; undefined when not declared. */
export function checkServiceMonitoring(where: DefinitionLocation, value: unknown): ServiceMonitoring | undefined {
  if (value === undefined) return undefined;
  const at = { ...where, field: 'monitoring' };
  const raw = checkObject(at, value);
  checkKnownKeys(at, raw, SERVICE_FIELDS);
  if (raw.latencyP99Ms === undefined) return Object.freeze({});
  const ms = raw.latencyP99Ms;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new DefinitionError({ ...at, field: 'monitoring.latencyP99Ms' }, `must be a number of milliseconds > 0, got ${show(ms)}`);
  }
  return Object.freeze({ latencyP99Ms: ms });
}

function checkShares(where: DefinitionLocation, raw: Record<string, unknown>): { completeness?: number; psi?: number; ks?: number } {
  const out: { completeness?: number; psi?: number; ks?: number } = {};
  const field = (name: string): DefinitionLocation => ({ ...where, field: where.field ? `${where.field}.${name}` : `monitoring.${name}` });
  if (raw.completeness !== undefined) out.completeness = checkNumber(field('completeness'), raw.completeness, 0, 1, 'a share between 0 and 1');
  if (raw.psi !== undefined) out.psi = checkNumber(field('psi'), raw.psi, 0, Infinity, 'a number > 0');
  if (raw.ks !== undefined) out.ks = checkNumber(field('ks'), raw.ks, 0, 1, 'a number between 0 and 1');
  return out;
}

function checkNumber(where: DefinitionLocation, value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value > max) {
    throw new DefinitionError(where, `must be ${what}, got ${show(value)}`);
  }
  return value;
}

function checkDuration(where: DefinitionLocation, value: unknown, min: number): number {
  const seconds = parseDurationSeconds(value as Duration);
  if (seconds === undefined || seconds < min) {
    throw new DefinitionError(where, `must be seconds or a duration such as '2h' or '30m'${min > 0 ? ' (> 0)' : ''}, got ${show(value)}`);
  }
  return seconds;
}
