import type { Command } from 'commander';
import type { FeatureStore } from '../../sdk/feature-store.ts';
import type { MonitorResult } from '../../stores/registry/monitor-results.ts';
import { MONITOR_DIMENSIONS, type MonitorDimension } from '../../workflows/contracts.ts';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/**
 * `granary monitor [VIEW...]`: the latest monitoring results of each view (freshness,
 * completeness, distribution) and feature service (skew, latency) with value, objective and
 * state; exit code 1 on any alert. And: `monitor run [VIEW...]` (the monitoring workflow now,
 * waited for), `monitor schedule` (the Temporal Schedules: freshness, completeness and latency
 * every minute, skew hourly, distribution daily),
 * `monitor baseline <view> --start T --end T | --from-file F` (the distribution baseline, from
 * committed rows or a training-set Parquet file), `monitor alert-rules`
 * (Prometheus alerting rules for the objectives), `monitor history <view> <metric>`.
 */
export function registerMonitorCommand(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('monitoring: freshness, completeness, distribution drift, skew, latency against SLOs (exit code 1 on any alert)')
    .argument('[views...]', 'feature views or feature services (default: all)')
    .action(
      commandAction(async (views: string[], _opts: object, command: Command) => {
        const options = globalOptions(command);
        const results = await withMonitorResults(command, (r) => r.latest(views));
        if (options.json) printJson(results.map(jsonOf));
        else if (results.length === 0) printLines('No monitoring results yet (run granary monitor run, or granary monitor schedule).');
        else {
          printLines(formatTable(['VIEW', 'METRIC', 'FEATURE', 'VALUE', 'OBJECTIVE', 'STATE', 'MEASURED'], results.map(rowOf)));
          const skew = skewLines(results);
          if (skew.length > 0) printLines(skew);
        }
        return results.some((r) => r.state === 'alert') ? EXIT_CODES.error : EXIT_CODES.ok;
      }),
    );

  monitor
    .command('run')
    .description('run the monitoring workflow now and wait for it (exit code 1 on any alert)')
    .argument('[views...]', 'feature views (default: all)')
    .option('--dimensions <list>', `comma-separated: ${MONITOR_DIMENSIONS.join(',')}`, MONITOR_DIMENSIONS.join(','))
    .action(
      commandAction(async (views: string[], opts: { dimensions: string }, command: Command) => {
        const dimensions = parseDimensions(opts.dimensions);
        const { runMonitor } = await import('../../monitoring/monitor-runs.ts');
        const run = await withFeatureStore(globalOptions(command), async (store) =>
          runMonitor(await store.temporal(), store.config.temporal.taskQueue, { project: store.project, dimensions, ...(views.length ? { views } : {}) }),
        );
        if (globalOptions(command).json) printJson(run);
        else printLines(`monitored ${run.views} view(s)${run.services ? ` and ${run.services} feature service(s)` : ''}: ${run.results} results, ${run.alerts} alert(s), ${run.warnings} warning(s), ${run.changes} state change(s) notified`);
        return run.alerts > 0 ? EXIT_CODES.error : EXIT_CODES.ok;
      }),
    );

  monitor
    .command('schedule')
    .description('create or update the monitoring schedules: freshness, completeness and latency every minute, skew hourly, distribution daily')
    .option('--every <duration>', 'freshness, completeness and latency interval', '1m')
    .option('--skew-every <duration>', 'skew interval', '1h')
    .option('--distribution-every <duration>', 'distribution interval', '1d')
    .action(
      commandAction(async (opts: { every: string; skewEvery: string; distributionEvery: string }, command: Command) => {
        const { upsertMonitorSchedules } = await import('../../monitoring/monitor-runs.ts');
        const outcomes = await withFeatureStore(globalOptions(command), async (store) =>
          upsertMonitorSchedules(await store.temporal(), store.config.temporal.taskQueue, store.project, [
            { name: 'minutely', every: opts.every, dimensions: ['freshness', 'completeness', 'latency'] },
            { name: 'hourly', every: opts.skewEvery, dimensions: ['skew'] },
            { name: 'daily', every: opts.distributionEvery, dimensions: ['distribution'] },
          ]),
        );
        if (globalOptions(command).json) return printJson(outcomes);
        for (const o of outcomes) printLines(`${o.outcome} ${o.scheduleId} (every ${o.every})`);
      }),
    );

  monitor
    .command('baseline')
    .description('set the distribution baseline of a view: its committed rows with event time in [start, end), or a training-set Parquet file')
    .argument('<view>', 'the feature view')
    .option('--start <time>', 'ISO time, inclusive')
    .option('--end <time>', 'ISO time, exclusive')
    .option('--from-file <file>', "a training-set Parquet file (columns 'feature' or 'view__feature'), instead of --start/--end")
    .action(
      commandAction(async (viewName: string, opts: { start?: string; end?: string; fromFile?: string }, command: Command) => {
        if (opts.fromFile !== undefined && (opts.start !== undefined || opts.end !== undefined)) throw new Error('give --from-file, or --start and --end, not both');
        if (opts.fromFile === undefined && (opts.start === undefined || opts.end === undefined)) throw new Error('give --start and --end (ISO times), or --from-file F');
        const range = opts.fromFile === undefined ? { start: parseTime('--start', opts.start!), end: parseTime('--end', opts.end!) } : undefined;
        const { computeBaselines, computeBaselinesFromFile } = await import('../../monitoring/view-distribution.ts');
        const baselines = await withFeatureStore(globalOptions(command), async (store) => {
          const view = await store.view(viewName);
          const deps = { registry: store.stores.registry(), offline: store.stores.offline };
          const computed = range ? await computeBaselines(deps, view, range) : await computeBaselinesFromFile(deps, store.project, view, opts.fromFile!);
          if (computed.length === 0) throw new Error(`baseline of feature view '${viewName}': no numeric, string or bool feature has committed rows in [${opts.start}, ${opts.end})`);
          await withResults(store, (r) => r.saveBaselines(computed));
          return computed;
        });
        if (globalOptions(command).json) return printJson(baselines);
        printLines(
          formatTable(
            ['FEATURE', 'KIND', 'ROWS', 'NULLS', 'FROM', 'BINS'],
            baselines.map((b) => [b.feature, b.bins.kind, String(b.rowCount), String(b.nullCount), b.file ?? `commits up to seq ${b.upToSeq}`, String(b.bins.shares.length)]),
          ),
        );
      }),
    );

  monitor
    .command('history')
    .description('the stored results of one view (or feature service) and metric, newest first')
    .argument('<view>', 'the feature view, or the feature service for skew and latency_p99')
    .argument('<metric>', 'freshness, online_freshness, completeness, served_completeness, window_completeness, psi, ks, skew or latency_p99')
    .option('--feature <name>', 'one feature')
    .option('--limit <n>', 'results shown', '20')
    .action(
      commandAction(async (view: string, metric: string, opts: { feature?: string; limit: string }, command: Command) => {
        const results = await withMonitorResults(command, (r) => r.history(view, metric, { ...(opts.feature ? { feature: opts.feature } : {}), limit: Number(opts.limit) }));
        if (globalOptions(command).json) return printJson(results.map(jsonOf));
        printLines(formatTable(['VIEW', 'METRIC', 'FEATURE', 'VALUE', 'OBJECTIVE', 'STATE', 'MEASURED'], results.map(rowOf)));
      }),
    );

  monitor
    .command('alert-rules')
    .description("print Prometheus alerting rules for the project's objectives (YAML rule file)")
    .action(
      commandAction(async (_opts: object, command: Command) => {
        const { alertRules, alertRulesYaml } = await import('../../monitoring/alert-rules.ts');
        const { withRegistry } = await import('../with-registry.ts');
        const file = await withRegistry(globalOptions(command), async (registry, config) => {
          const active = (await registry.listObjects()).filter((o) => o.status === 'active');
          const views = active.filter((o) => o.kind === 'featureView').map((o) => o.spec as import('../../definitions/spec.ts').FeatureViewSpec);
          const services = active.filter((o) => o.kind === 'featureService').map((o) => o.spec as import('../../definitions/spec.ts').FeatureServiceSpec);
          return alertRules(config.project, views, services);
        });
        if (globalOptions(command).json) return printJson(file);
        process.stdout.write(alertRulesYaml(file));
      }),
    );
}

async function withMonitorResults<T>(command: Command, fn: (results: import('../../stores/registry/monitor-results.ts').MonitorResults) => Promise<T>): Promise<T> {
  const { withRegistry } = await import('../with-registry.ts');
  const { PostgresMonitorResults } = await import('../../stores/registry/postgres-monitor-results.ts');
  return withRegistry(globalOptions(command), async (_registry, config) => {
    const results = new PostgresMonitorResults({ url: config.registry.url, project: config.project });
    try {
      return await fn(results);
    } finally {
      await results.close();
    }
  });
}

async function withResults<T>(store: FeatureStore, fn: (results: import('../../stores/registry/monitor-results.ts').MonitorResults) => Promise<T>): Promise<T> {
  const { PostgresMonitorResults } = await import('../../stores/registry/postgres-monitor-results.ts');
  const results = new PostgresMonitorResults({ url: store.config.registry.url, project: store.project });
  try {
    return await fn(results);
  } finally {
    await results.close();
  }
}

function parseDimensions(text: string): MonitorDimension[] {
  const known: readonly string[] = MONITOR_DIMENSIONS;
  const list = text.split(',').map((d) => d.trim()).filter(Boolean);
  for (const d of list) if (!known.includes(d)) throw new Error(`--dimensions: unknown dimension '${d}' (known: ${known.join(', ')})`);
  if (list.length === 0) throw new Error('--dimensions: name at least one dimension');
  return list as MonitorDimension[];
}

function parseTime(flag: string, text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`${flag}: '${text}' is not a time (use ISO 8601, e.g. 2024-05-01T00:00:00Z)`);
  return ms;
}

/** A view's results show its version; a feature service's (skew, latency: version 0) say so. */
function rowOf(r: MonitorResult): string[] {
  return [r.version === 0 ? `${r.view} (service)` : `${r.view} v${r.version}`, r.metric, r.feature || '-', formatNumber(r.value), formatNumber(r.objective), r.state, r.measuredAt.toISOString()];
}

/** Each true skew mismatch of the latest skew results, named: feature, entity, time, both values. */
function skewLines(results: readonly MonitorResult[]): string[] {
  const lines: string[] = [];
  for (const r of results.filter((x) => x.metric === 'skew')) {
    const d = r.detail as { checked?: number; lagged?: number; mismatches?: { feature: string; entity: Record<string, unknown>; time: string; served: string | null; training: string | null }[] };
    lines.push(`skew of feature service '${r.view}': ${d.checked ?? 0} served values checked, ${r.value} true mismatch(es), ${d.lagged ?? 0} explained by materialization lag`);
    for (const m of d.mismatches ?? []) lines.push(`  ${m.feature} ${JSON.stringify(m.entity)} at ${m.time}: served ${m.served ?? 'null'}, training set ${m.training ?? 'null'}`);
  }
  return lines;
}

function jsonOf(r: MonitorResult) {
  return { ...r, value: r.value >= Number.MAX_VALUE ? null : r.value, measuredAt: r.measuredAt.toISOString() };
}

function formatNumber(value: number): string {
  if (value >= Number.MAX_VALUE) return 'never';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}
