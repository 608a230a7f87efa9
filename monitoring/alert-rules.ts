import { stringify } from 'yaml';
import type { FeatureServiceSpec, FeatureViewSpec } from '../definitions/spec.ts';
import { serviceLatencyObjectiveMs, viewObjectives } from './objectives.ts';

/**
 * Prometheus alerting rules for a project's objectives, over the feature server's gauges
 * (serving-metrics.ts): freshness past TTL + threshold (critical: the hard alert), completeness
 * below its minimum, PSI and KS above their maximum (per feature), the p99 serving latency of
 * each feature service above its objective (from the request-duration histogram, over 5 minutes),
 * and true skew mismatches of each feature service (the skew result's state, critical).
 *
 * @example
 *   alertRules('fraud', [specOf(userSpend)], [specOf(fraudModel)])
 *   // => { groups: [{ name: 'granary-fraud', rules: [{ alert: 'GranaryViewStale', expr: 'granary_view_freshness_seconds{project="fraud",view="user_spend"} > 93600', ... }, ...] }] }
 */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly AlertRule[] }[];
}

export function alertRules(project: string, views: readonly FeatureViewSpec[], services: readonly FeatureServiceSpec[]): RuleFile {
  const rules: AlertRule[] = [];
  const sel = (labels: Record<string, string>): string => `{${Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
  for (const view of views) {
    const o = viewObjectives(view);
    const at = { project, view: view.name };
    rules.push({
      alert: 'GranaryViewStale',
      expr: `granary_view_freshness_seconds${sel(at)} > ${o.ttlSeconds + o.freshnessThresholdSeconds}`,
      for: '0m',
      labels: { severity: 'critical', project, view: view.name },
      annotations: { summary: `feature view ${view.name}: newest event older than TTL (${o.ttlSeconds}s) + threshold (${o.freshnessThresholdSeconds}s)` },
    });
    for (const f of view.features) {
      const fo = o.features[f.name]!;
      const labels = { severity: 'warning', project, view: view.name, feature: f.name };
      const fat = { ...at, feature: f.name };
      rules.push({
        alert: 'GranaryFeatureIncomplete',
        expr: `granary_feature_completeness${sel(fat)} < ${fo.completeness}`,
        for: '5m',
        labels,
        annotations: { summary: `${view.name}:${f.name}: share of non-null values below ${fo.completeness}` },
      });
      rules.push({
        alert: 'GranaryFeatureDriftPsi',
        expr: `granary_feature_psi${sel(fat)} > ${fo.psi}`,
        for: '0m',
        labels,
        annotations: { summary: `${view.name}:${f.name}: PSI against the baseline above ${fo.psi}` },
      });
      rules.push({
        alert: 'GranaryFeatureDriftKs',
        expr: `granary_feature_ks${sel(fat)} > ${fo.ks}`,
        for: '0m',
        labels,
        annotations: { summary: `${view.name}:${f.name}: KS statistic against the baseline above ${fo.ks}` },
      });
    }
  }
  for (const service of services) {
    const ms = serviceLatencyObjectiveMs(service);
    rules.push({
      alert: 'GranaryServingSlow',
      expr: `histogram_quantile(0.99, sum by (le) (rate(granary_serving_request_duration_seconds_bucket${sel({ feature_service: service.name })}[5m]))) > ${ms / 1000}`,
      for: '5m',
      labels: { severity: 'warning', project, feature_service: service.name },
      annotations: { summary: `feature service ${service.name}: p99 serving latency above ${ms} ms` },
    });
    rules.push({
      alert: 'GranaryServingSkew',
      expr: `granary_monitor_state${sel({ project, view: service.name, metric: 'skew' })} == 2`,
      for: '0m',
      labels: { severity: 'critical', project, feature_service: service.name },
      annotations: { summary: `feature service ${service.name}: served values no committed row explains (granary monitor ${service.name} names them)` },
    });
  }
  return { groups: [{ name: `granary-${project}`, rules }] };
}

export function alertRulesYaml(file: RuleFile): string {
  return stringify(file, { lineWidth: 0 });
}

function escape(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}
