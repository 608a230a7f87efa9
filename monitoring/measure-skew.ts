import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { FeatureViewSpec } from '../definitions/spec.ts';
import type { FeatureValue } from '../definitions/feature-value.ts';
import type { ValueType } from '../definitions/value-type.ts';
import { committedObjects } from '../retrieval/committed-objects.ts';
import { DuckDBSession, ident, literal } from '../retrieval/duckdb-session.ts';
import { pointInTimeSql, viewStagedRowsSql, type PointInTimeView } from '../retrieval/point-in-time-sql.ts';
import { stageObjects } from '../retrieval/staged-objects.ts';
import { jsonValueOf } from '../serving/json-value.ts';
import { servingLogPrefix } from '../serving/serving-sample-log.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { Registry } from '../stores/registry/registry.ts';

/** Log objects younger than this are left for the next run (a server may still be writing one with an older stamp). */
export const SKEW_LOG_GRACE_MS = 5_000;
/** Mismatches named in a result's detail at most. */
export const NAMED_MISMATCHES = 20;

/** One served value that no committed row explains. */
export interface SkewMismatch {
  /** `view:feature` as served. */
  readonly feature: string;
  readonly entity: Readonly<Record<string, string | null>>;
  /** The request time, ISO. */
  readonly time: string;
  /** What was served and what a training set for the same entity and time holds (JSON text, null for none). */
  readonly served: string | null;
  readonly training: string | null;
  readonly status: string;
}

export interface SkewMeasure {
  readonly featureService: string;
  /** Served values checked, equal to the training set, explained by materialization lag, true mismatches. */
  readonly checked: number;
  readonly matched: number;
  readonly lagged: number;
  readonly mismatched: number;
  readonly mismatches: readonly SkewMismatch[];
  /** Log objects read, and the last one (the next run starts after it). */
  readonly objects: number;
  readonly lastObject: string | null;
}

export interface SkewDeps {
  readonly registry: Registry;
  readonly offline: OfflineStore;
  readonly memoryLimit?: string;
  readonly tempDir?: string;
}

/**
 * Training/serving skew of one feature service, from the feature server's sample log
 * (serving/serving-sample-log.ts): each sampled served value is replayed through point-in-time
 * retrieval (retrieval/point-in-time-sql.ts, DuckDB) as of its request time over every committed
 * row, which is what a training set for the same entity and time holds. A served value equal to
 * it matches. One that differs is materialization lag when a committed row explains it: the
 * point-in-time value over only the commits that existed at the request time (committed_at <=
 * request time), or a committed row of the entity at the served event time holding the served
 * value (an older row, not yet overwritten online), or a NOT_FOUND (the entity not materialized
 * yet). Anything else is a true mismatch, named: feature, entity, time, both values. Values are
 * compared as the HTTP answer writes them (serving/json-value.ts: float32 as its shortest
 * decimal, int64 exactly); a value served with a status other than PRESENT or NULL_VALUE (a
 * default) counts as none.
 *
 * Reads the log objects after `after` (a key; the last run's `lastObject`) written before
 * `until` (ms), in key order.
 *
 * @example
 *   await measureSkew(deps, 'fraud', 'fraud_model_v1', { after: null, until: Date.now() - SKEW_LOG_GRACE_MS })
 *   // => { featureService: 'fraud_model_v1', checked: 840, matched: 838, lagged: 2, mismatched: 0, mismatches: [], objects: 3, lastObject: 'fraud/_serving_log/...' }
 */
export async function measureSkew(
  deps: SkewDeps,
  project: string,
  featureService: string,
  range: { readonly after: string | null; readonly until: number },
): Promise<SkewMeasure> {
  const prefix = servingLogPrefix(project, featureService);
  const keys: string[] = [];
  for await (const o of deps.offline.list(prefix)) {
    const stamp = Number(o.key.slice(prefix.length).split('-')[0]);
    if ((range.after === null || o.key > range.after) && stamp <= range.until) keys.push(o.key);
  }
  keys.sort();
  const empty = { featureService, checked: 0, matched: 0, lagged: 0, mismatched: 0, mismatches: [], objects: 0, lastObject: range.after };
  if (keys.length === 0) return empty;
  const dir = await mkdtemp(join(deps.tempDir ?? tmpdir(), 'granary-skew-'));
  const duck = await DuckDBSession.open({ tempDir: join(dir, 'spill'), ...(deps.memoryLimit ? { memoryLimit: deps.memoryLimit } : {}) });
  try {
    const logFiles = await stageKeys(deps.offline, keys, dir);
    await duck.run(`CREATE TABLE s AS SELECT row_number() OVER () AS sample_row, * FROM read_parquet([${logFiles.map(literal).join(', ')}], union_by_name = true)`);
    const columns = new Set((await duck.rows('DESCRIBE s')).map((r) => String(r.column_name)));
    const tally = { checked: 0, matched: 0, lagged: 0, mismatched: 0, mismatches: [] as SkewMismatch[] };
    const served = (await duck.rows('SELECT DISTINCT view FROM s ORDER BY view')).map((r) => String(r.view));
    for (const [i, servedView] of served.entries()) {
      const view = await viewOf(deps.registry, project, servedView);
      await compareView(duck, deps, view, servedView, columns, join(dir, `v${i}`), tally);
    }
    return { featureService, ...tally, objects: keys.length, lastObject: keys.at(-1)! };
  } finally {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  }
}

type Tally = { checked: number; matched: number; lagged: number; mismatched: number; mismatches: SkewMismatch[] };

/** Compares the samples of one served view (`view` or `view@2`) with its committed rows. */
async function compareView(duck: DuckDBSession, deps: SkewDeps, view: FeatureView, servedView: string, columns: ReadonlySet<string>, dir: string, tally: Tally): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entityFile = join(dir, 'samples.parquet');
  await duck.run(`COPY (SELECT * FROM s WHERE view = ${literal(servedView)}) TO ${literal(entityFile)} (FORMAT parquet)`);
  // Only objects with rows a sample can meet: event time within [first request - TTL, last request].
  const span = (await duck.rows(`SELECT min(request_time_ms) AS lo, max(request_time_ms) AS hi FROM s WHERE view = ${literal(servedView)}`))[0]!;
  const objects = await committedObjects(deps.registry, view, { from: Number(span.lo) - view.ttlSeconds * 1000, to: Number(span.hi) });
  const committedAt = new Map((await deps.registry.commits(view.name, view.version)).map((c) => [c.seq, c.committedAt.getTime()]));
  const files = await stageObjects(deps.offline, objects, dir);
  const keyColumn = (joinKey: string): string => {
    const column = `key_${joinKey}`;
    if (!columns.has(column)) throw new Error(`skew: the serving log of feature view '${view.name}' has no column '${column}' for its join key`);
    return column;
  };
  const pit: PointInTimeView = {
    files,
    keys: view.entities.map((e) => ({
      column: e.joinKey,
      type: e.valueType,
      entitySql: e.valueType === 'string' ? `l.${ident(keyColumn(e.joinKey))}` : `TRY_CAST(l.${ident(keyColumn(e.joinKey))} AS BIGINT)`,
    })),
    eventTimestampColumn: view.source.eventTimestampColumn,
    createdTimestampColumn: view.source.createdTimestampColumn ?? null,
    features: view.features.map((f) => ({ name: f.name, type: f.type, present: objects.some((o) => o.features === null || o.features.includes(f.name)) })),
    unionByName: true,
    ttlMs: view.ttlSeconds * 1000,
  };
  const featureIndex = new Map(view.features.map((f, i) => [f.name, i]));
  const output = view.features.map((f, i) => ({ view: 0, feature: f.name, name: `t_${i}` }));
  // (a) What a training set for the same entity and time holds.
  const training = await duck.rows(
    pointInTimeSql({
      entities: { path: entityFile, columns: ['sample_row', 'feature', 'value', 'status', 'request_time_ms', ...view.entities.map((e) => keyColumn(e.joinKey))], timeSql: 'CAST(l.request_time_ms AS BIGINT)' },
      views: [pit],
      output,
    }),
  );
  // (b) The same as of the commits that existed at the request time, and (c) the committed rows at the served event time.
  const explained = new Map<bigint, Record<string, unknown>[]>();
  if (files.length > 0) {
    const oc = objects.map((o, i) => `(${i}, ${Math.round(committedAt.get(o.seq) ?? 0)})`).join(', ');
    const on = view.entities.map((e, j) => `${pit.keys[j]!.entitySql} = r.k${j}`).join(' AND ');
    const features = view.features.map((f, i) => `r.${ident(f.name)} AS t_${i}`).join(', ');
    const rows = await duck.rows(`
      WITH l AS (SELECT * FROM read_parquet(${literal(entityFile)})),
      r AS (${viewStagedRowsSql(pit)}),
      oc AS (SELECT * FROM (VALUES ${oc}) AS oc(o, committed_ms))
      SELECT * FROM (
        SELECT l.sample_row, ${features} FROM l JOIN r ON ${on} AND r.e <= CAST(l.request_time_ms AS BIGINT) AND r.e >= CAST(l.request_time_ms AS BIGINT) - ${Math.round(pit.ttlMs)}
        JOIN oc ON oc.o = r.o AND oc.committed_ms <= CAST(l.request_time_ms AS BIGINT)
        QUALIFY row_number() OVER (PARTITION BY l.sample_row ORDER BY r.e DESC, r.c DESC, r.o, r.r) = 1)
      UNION ALL
      SELECT l.sample_row, ${features} FROM l JOIN r ON ${on} AND r.e = CAST(l.event_time_ms AS BIGINT)`);
    for (const row of rows) {
      const at = row.sample_row as bigint;
      explained.set(at, [...(explained.get(at) ?? []), row]);
    }
  }
  for (const row of training) {
    const f = featureIndex.get(String(row.feature));
    if (f === undefined) continue; // a feature since removed from the view
    const type = view.features[f]!.type;
    const status = String(row.status);
    const servedText = status === 'PRESENT' || status === 'NULL_VALUE' ? ((row.value as string | null) ?? null) : null;
    const trainingText = textOf(row[`t_${f}`], type);
    tally.checked++;
    if (servedText === trainingText) {
      tally.matched++;
      continue;
    }
    const others = explained.get(row.sample_row as bigint) ?? [];
    if (status === 'NOT_FOUND' || others.some((o) => textOf(o[`t_${f}`], type) === servedText)) {
      tally.lagged++;
      continue;
    }
    tally.mismatched++;
    if (tally.mismatches.length < NAMED_MISMATCHES) {
      tally.mismatches.push({
        feature: `${servedView}:${view.features[f]!.name}`,
        entity: Object.fromEntries(view.entities.map((e) => [e.joinKey, (row[`key_${e.joinKey}`] as string | null) ?? null])),
        time: new Date(Number(row.request_time_ms)).toISOString(),
        served: servedText,
        training: trainingText,
        status,
      });
    }
  }
}

/** A DuckDB value of a feature as the HTTP answer writes it (JSON text), null for none. */
export function textOf(value: unknown, type: ValueType): string | null {
  const v = featureValueOf(value);
  return v === null ? null : JSON.stringify(jsonValueOf(v, type));
}

function featureValueOf(value: unknown): FeatureValue | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return value as FeatureValue;
  if (value instanceof Date) return value.getTime();
  const o = value as { micros?: bigint; bytes?: Uint8Array; items?: unknown[] };
  if (typeof o.micros === 'bigint') return Number(o.micros / 1000n);
  if (o.bytes instanceof Uint8Array) return o.bytes;
  if (Array.isArray(o.items)) return o.items.map(featureValueOf);
  return String(value);
}

/** The view a served reference names: `view@2` pins version 2; `view` is its newest active version. */
async function viewOf(registry: Registry, project: string, served: string): Promise<FeatureView> {
  const { featureViewFromSpec } = await import('../definitions/view-from-spec.ts');
  const [name, pinned] = served.split('@') as [string, string | undefined];
  const candidates = (await registry.listObjects('featureView')).filter((o) => o.name === name && o.status === 'active');
  const version = pinned !== undefined ? Number(pinned) : Math.max(...candidates.map((o) => o.version));
  const object = candidates.find((o) => o.version === version);
  if (!object) throw new Error(`skew: feature view '${served}' of project '${project}' is served but not active in the registry`);
  return featureViewFromSpec(object.spec as FeatureViewSpec);
}

/** The log objects as local files DuckDB reads (symlinks for local files, downloads otherwise). */
async function stageKeys(offline: OfflineStore, keys: readonly string[], dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, key] of keys.entries()) {
    const path = join(dir, `log${String(i).padStart(6, '0')}.parquet`);
    if (offline.capabilities.localFiles) await symlink(offline.localPath(key), path);
    else await writeFile(path, await offline.getBytes(key));
    paths.push(path);
  }
  return paths;
}
