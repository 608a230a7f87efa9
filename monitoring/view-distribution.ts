import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureView } from '../definitions/feature-view.ts';
import { parseValueType } from '../definitions/value-type.ts';
import { committedObjects, type CommittedObject } from '../retrieval/committed-objects.ts';
import { DuckDBSession, ident, literal } from '../retrieval/duckdb-session.ts';
import { stageObjects } from '../retrieval/staged-objects.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Baseline, BaselineBins } from '../stores/registry/monitor-results.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { binCountsSql, categoryCountsSql, countsSql, decilesSql, ksSql, loadRowsSql } from './distribution-sql.ts';
import { psi, sharesOf } from './drift-statistics.ts';

/**
 * Distribution monitoring of one view version over its committed offline objects, in DuckDB
 * (staged the way historical retrieval stages them: symlinks for local files, downloads for S3).
 * `computeBaselines` bins the rows of an event-time range [start, end) (decile edges for numeric
 * features, category shares for strings and bools) and records the commit seq it read up to, so
 * the baseline's rows can be read again, exactly, for KS. `measureDistribution` compares the last
 * window of event time (ending at the newest committed event) with the baselines: PSI over the
 * baseline's bins (categories unseen in the baseline pooled in one extra bin), KS for numeric
 * features, and the share of nulls, reported apart (not binned). Lists and bytes are not binned.
 *
 * @example
 *   const baselines = await computeBaselines(deps, userSpend, { start: Date.UTC(2024, 0, 1), end: Date.UTC(2024, 1, 1) });
 *   const drift = await measureDistribution(deps, userSpend, baselines, { windowSeconds: 86400 });
 *   drift[0] // => { feature: 'spend', kind: 'numeric', psi: 0.004, ks: 0.012, rows: 1000, nulls: 3, ... }
 */
export interface DistributionDeps {
  readonly registry: Registry;
  readonly offline: OfflineStore;
  /** DuckDB's memory limit (default DuckDB's own) and threads. */
  readonly memoryLimit?: string;
  readonly threads?: number;
  readonly tempDir?: string;
}

export interface FeatureDrift {
  readonly feature: string;
  readonly kind: 'numeric' | 'categorical';
  /** Rows of the window, nulls among them (reported apart: completeness), and rows binned. */
  readonly rows: number;
  readonly nulls: number;
  readonly binned: number;
  readonly psi: number;
  /** Numeric features only. */
  readonly ks: number | null;
  readonly baselineShares: readonly number[];
  readonly currentShares: readonly number[];
  readonly windowStart: number;
  readonly windowEnd: number;
}

type Cast = 'DOUBLE' | 'VARCHAR' | 'EPOCH_MS';
interface Monitored {
  readonly name: string;
  readonly alias: string;
  readonly cast: Cast;
  readonly kind: 'numeric' | 'categorical';
}

/** The features distribution monitoring bins, with their DuckDB column. */
export function monitoredFeatures(view: FeatureView): Monitored[] {
  const out: Monitored[] = [];
  view.features.forEach((f, i) => {
    const type = parseValueType(f.type);
    if (!type || type.list) return;
    const alias = `v_${i}`;
    if (['int32', 'int64', 'float32', 'float64'].includes(type.scalar)) out.push({ name: f.name, alias, cast: 'DOUBLE', kind: 'numeric' });
    else if (type.scalar === 'timestamp') out.push({ name: f.name, alias, cast: 'EPOCH_MS', kind: 'numeric' });
    else if (type.scalar === 'string' || type.scalar === 'bool') out.push({ name: f.name, alias, cast: 'VARCHAR', kind: 'categorical' });
  });
  return out;
}

export async function computeBaselines(deps: DistributionDeps, view: FeatureView, range: { readonly start: number; readonly end: number }): Promise<Baseline[]> {
  if (!(range.end > range.start)) throw new RangeError(`baseline of feature view '${view.name}': --end must be after --start`);
  const upToSeq = await deps.registry.latestCommitSeq(view.name, view.version);
  const objects = (await committedObjects(deps.registry, view, { from: range.start, to: range.end - 1 })).filter((o) => o.seq <= upToSeq);
  const features = monitoredFeatures(view).filter((f) => isHeld(objects, f.name));
  if (features.length === 0) return [];
  return withDuck(deps, async (duck, stage) => {
    await loadRows(duck, 'b', await stage(objects, 'b'), view, features, range.start, range.end);
    return binBaselines(duck, view, features, { start: new Date(range.start), end: new Date(range.end), upToSeq });
  });
}

/** The event-time column a training set written by Granary has (historical retrieval's default). */
export const TRAINING_SET_EVENT_TIMESTAMP = 'event_timestamp';

/**
 * The baseline of a view from a training-set Parquet file (`granary monitor baseline <view>
 * --from-file F`): each monitored feature's column, named `feature` or `view__feature`
 * (fullFeatureNames), binned as computeBaselines bins committed rows. The file is copied to the
 * offline store at `<project>/_monitoring/baselines/<view>/v<version>/<sha256>.parquet` (the
 * baseline records the key) so KS reads exactly its rows again. A file holding none of the
 * view's monitored features is refused, naming the columns it looked for; nothing is written.
 *
 * @example
 *   await computeBaselinesFromFile(deps, 'fraud', userSpend, 'train.parquet')
 *   // => [{ feature: 'spend', file: 'fraud/_monitoring/baselines/user_spend/v1/3f2a....parquet', bins: { kind: 'numeric', ... } }, ...]
 */
export async function computeBaselinesFromFile(deps: DistributionDeps, project: string, view: FeatureView, path: string): Promise<Baseline[]> {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`baseline of feature view '${view.name}': cannot read --from-file ${path}: ${(error as Error).message}`);
  }
  return withDuck(deps, async (duck) => {
    const columns = await fileColumns(duck, path, view);
    const features = monitoredFeatures(view).filter((f) => columns.has(f.name));
    if (features.length === 0) {
      const wanted = monitoredFeatures(view).map((f) => `'${f.name}' or '${view.name}__${f.name}'`);
      throw new Error(`baseline of feature view '${view.name}': ${path} has no column of its monitored features (looked for ${wanted.join(', ')})`);
    }
    await duck.run(loadFileSql('b', path, features, columns));
    let start = 0;
    let end = 0;
    if (columns.has(TRAINING_SET_EVENT_TIMESTAMP)) {
      const t = `epoch_ms(${ident(columns.get(TRAINING_SET_EVENT_TIMESTAMP)!)})`;
      const r = (await duck.rows(`SELECT min(${t}) AS lo, max(${t}) AS hi FROM read_parquet(${literal(path)})`))[0]!;
      if (r.lo !== null) [start, end] = [Number(r.lo), Number(r.hi) + 1];
    }
    const file = `${project}/_monitoring/baselines/${view.name}/v${view.version}/${createHash('sha256').update(bytes).digest('hex')}.parquet`;
    const baselines = await binBaselines(duck, view, features, { start: new Date(start), end: new Date(end), upToSeq: 0, file });
    await deps.offline.putBytes(file, bytes);
    return baselines;
  });
}

/** The file's columns by the name monitoring knows them: a feature's `feature` or `view__feature` column, and the others as they are. */
async function fileColumns(duck: DuckDBSession, path: string, view: FeatureView): Promise<Map<string, string>> {
  let rows: Record<string, unknown>[];
  try {
    rows = await duck.rows(`DESCRIBE SELECT * FROM read_parquet(${literal(path)})`);
  } catch (error) {
    throw new Error(`baseline of feature view '${view.name}': ${path} is not a readable Parquet file: ${(error as Error).message}`);
  }
  const names = rows.map((r) => String(r.column_name));
  const out = new Map(names.map((n) => [n, n]));
  for (const f of view.features) {
    const full = `${view.name}__${f.name}`;
    if (!out.has(f.name) && out.has(full)) out.set(f.name, full);
  }
  return out;
}

function loadFileSql(table: string, path: string, features: readonly Monitored[], columns: ReadonlyMap<string, string>): string {
  const select = features
    .map((f) => {
      const c = ident(columns.get(f.name)!);
      return f.cast === 'EPOCH_MS' ? `epoch_ms(${c})::DOUBLE AS ${ident(f.alias)}` : `CAST(${c} AS ${f.cast}) AS ${ident(f.alias)}`;
    })
    .join(', ');
  return `CREATE OR REPLACE TABLE ${ident(table)} AS SELECT ${select} FROM read_parquet(${literal(path)})`;
}

/** Bins each feature of table `b` (deciles and their shares, or category shares). */
async function binBaselines(duck: DuckDBSession, view: FeatureView, features: readonly Monitored[], meta: Pick<Baseline, 'start' | 'end' | 'upToSeq' | 'file'>): Promise<Baseline[]> {
  const out: Baseline[] = [];
  for (const f of features) {
    const counts = await countsOf(duck, 'b', f);
    let bins: BaselineBins;
    if (f.kind === 'numeric') {
      const edges = counts.binned === 0 ? [] : ((await duck.rows(decilesSql('b', f.alias)))[0]!.edges as { items: number[] }).items.map(Number);
      bins = { kind: 'numeric', edges, shares: sharesOf(await numericCounts(duck, 'b', f.alias, edges)) };
    } else {
      const rows = await duck.rows(`${categoryCountsSql('b', f.alias)} ORDER BY category`);
      bins = { kind: 'categorical', categories: rows.map((r) => String(r.category)), shares: sharesOf(rows.map((r) => Number(r.n))) };
    }
    out.push({ view: view.name, version: view.version, feature: f.name, ...meta, rowCount: counts.rows, nullCount: counts.rows - counts.nonNull, bins });
  }
  return out;
}

export async function measureDistribution(
  deps: DistributionDeps,
  view: FeatureView,
  baselines: readonly Baseline[],
  options: { readonly windowSeconds: number },
): Promise<FeatureDrift[]> {
  const latestSeq = await deps.registry.latestCommitSeq(view.name, view.version);
  const newest = latestSeq === 0 ? undefined : await deps.registry.newestEventTime(view.name, view.version, latestSeq);
  const byFeature = new Map(baselines.map((b) => [b.feature, b]));
  const features = monitoredFeatures(view).filter((f) => byFeature.has(f.name) && byFeature.get(f.name)!.bins.kind === f.kind);
  if (newest === undefined || features.length === 0) return [];
  const windowEnd = newest.getTime() + 1;
  const windowStart = windowEnd - options.windowSeconds * 1000;
  const current = (await committedObjects(deps.registry, view, { from: windowStart, to: windowEnd - 1 })).filter((o) => o.seq <= latestSeq);
  return withDuck(deps, async (duck, stage, stageDir) => {
    const present = features.filter((f) => isHeld(current, f.name));
    await loadRows(duck, 'c', await stage(current, 'c'), view, present, windowStart, windowEnd);
    // The baseline's own rows, read again for KS (numeric features only).
    const numeric = present.filter((f) => f.kind === 'numeric');
    if (numeric.length > 0 && byFeature.get(numeric[0]!.name)!.file) {
      // A baseline from a training-set file: its copy's rows, read again.
      const first = byFeature.get(numeric[0]!.name)!;
      const path = join(await stageDir('f'), 'baseline.parquet');
      if (deps.offline.capabilities.localFiles) await symlink(deps.offline.localPath(first.file!), path);
      else await writeFile(path, await deps.offline.getBytes(first.file!));
      const columns = await fileColumns(duck, path, view);
      const same = numeric.filter((f) => byFeature.get(f.name)!.file === first.file && columns.has(f.name));
      await duck.run(loadFileSql('b', path, same, columns));
    } else if (numeric.length > 0) {
      const first = byFeature.get(numeric[0]!.name)!;
      const baseObjects = (await committedObjects(deps.registry, view, { from: first.start.getTime(), to: first.end.getTime() - 1 })).filter((o) => o.seq <= first.upToSeq);
      await loadRows(duck, 'b', await stage(baseObjects, 'b'), view, numeric.filter((f) => isHeld(baseObjects, f.name) && sameRange(byFeature.get(f.name)!, first)), first.start.getTime(), first.end.getTime());
    }
    const out: FeatureDrift[] = [];
    for (const f of present) {
      const baseline = byFeature.get(f.name)!;
      const counts = await countsOf(duck, 'c', f);
      let currentShares: number[];
      let baselineShares: number[];
      let ks: number | null = null;
      if (baseline.bins.kind === 'numeric') {
        baselineShares = [...baseline.bins.shares];
        currentShares = sharesOf(await numericCounts(duck, 'c', f.alias, baseline.bins.edges));
        ks = await ksOf(duck, f, byFeature, numeric);
      } else {
        const known = new Map(baseline.bins.categories.map((c, i) => [c, i]));
        const counts = new Array<number>(baseline.bins.categories.length + 1).fill(0);
        for (const r of await duck.rows(categoryCountsSql('c', f.alias))) counts[known.get(String(r.category)) ?? baseline.bins.categories.length]! += Number(r.n);
        currentShares = sharesOf(counts);
        baselineShares = [...baseline.bins.shares, 0];
      }
      out.push({
        feature: f.name,
        kind: f.kind,
        rows: counts.rows,
        nulls: counts.rows - counts.nonNull,
        binned: counts.binned,
        psi: counts.binned === 0 ? 0 : psi(baselineShares, currentShares),
        ks,
        baselineShares,
        currentShares,
        windowStart,
        windowEnd,
      });
    }
    return out;
  });
}

async function ksOf(duck: DuckDBSession, f: Monitored, byFeature: Map<string, Baseline>, numeric: readonly Monitored[]): Promise<number | null> {
  const columns = await duck.rows(`SELECT column_name FROM information_schema.columns WHERE table_name = 'b'`);
  if (!columns.some((c) => c.column_name === f.alias) || !numeric.includes(f) || !byFeature.has(f.name)) return null;
  const row = (await duck.rows(ksSql('b', 'c', f.alias)))[0]!;
  return Number(row.ks);
}

async function numericCounts(duck: DuckDBSession, table: string, column: string, edges: readonly number[]): Promise<number[]> {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const r of await duck.rows(binCountsSql(table, column, edges))) counts[Number(r.bin)] = Number(r.n);
  return counts;
}

async function countsOf(duck: DuckDBSession, table: string, f: Monitored): Promise<{ rows: number; nonNull: number; binned: number }> {
  const r = (await duck.rows(countsSql(table, f.alias, f.kind === 'numeric')))[0]!;
  return { rows: Number(r.rows), nonNull: Number(r.non_null), binned: Number(r.binned) };
}

async function loadRows(duck: DuckDBSession, table: string, files: readonly string[], view: FeatureView, features: readonly Monitored[], from: number, to: number): Promise<void> {
  if (files.length === 0) {
    const columns = features.map((f) => `CAST(NULL AS ${f.cast === 'VARCHAR' ? 'VARCHAR' : 'DOUBLE'}) AS "${f.alias}"`).join(', ');
    await duck.run(`CREATE OR REPLACE TABLE ${table} AS SELECT ${columns || '1 AS none'} WHERE false`);
    return;
  }
  await duck.run(loadRowsSql(table, files, view.source.eventTimestampColumn, features, from, to));
}

/** Whether any object holds the feature (objects of an older schema version may lack it). */
function isHeld(objects: readonly CommittedObject[], feature: string): boolean {
  return objects.some((o) => o.features === null || o.features.includes(feature));
}

function sameRange(a: Baseline, b: Baseline): boolean {
  return a.start.getTime() === b.start.getTime() && a.end.getTime() === b.end.getTime() && a.upToSeq === b.upToSeq;
}

async function withDuck<T>(
  deps: DistributionDeps,
  fn: (duck: DuckDBSession, stage: (objects: readonly CommittedObject[], name: string) => Promise<string[]>, stageDir: (name: string) => Promise<string>) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(deps.tempDir ?? tmpdir(), 'granary-monitor-'));
  const duck = await DuckDBSession.open({ tempDir: join(dir, 'spill'), ...(deps.memoryLimit ? { memoryLimit: deps.memoryLimit } : {}), ...(deps.threads ? { threads: deps.threads } : {}) });
  try {
    const stageDir = async (name: string): Promise<string> => {
      const at = join(dir, name);
      await mkdir(at, { recursive: true });
      return at;
    };
    const stage = async (objects: readonly CommittedObject[], name: string): Promise<string[]> => stageObjects(deps.offline, objects, await stageDir(name));
    return await fn(duck, stage, stageDir);
  } finally {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  }
}
