import type { Table } from 'apache-arrow';
import { parseFeatureRef } from '../definitions/feature-service.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { FeatureServiceSpec, FeatureViewSpec } from '../definitions/spec.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import { committedObjects } from './committed-objects.ts';
import type { HistoricalJoinInput, HistoricalJoinOptions, HistoricalOutputColumn } from './historical-join.ts';
import type { Registry } from '../stores/registry/registry.ts';

/** What a training set is asked for: entities or a time range, features or a service. */
export interface HistoricalFeaturesOptions extends HistoricalJoinOptions {
  /** The entity rows (labels); omit for a snapshot with `end` (and optionally `start`). */
  readonly entities?: Table;
  /** The entity rows as a .parquet file (read by DuckDB as is when typed) or a .csv file, instead of entities. */
  readonly entitiesFile?: string;
  /** 'view:feature', 'view@2:feature', or 'view' for all its features, in output order. */
  readonly features?: readonly string[];
  /** A feature service's name: its features in its order. */
  readonly featureService?: string;
  /** Name features `view__feature` (default false: `feature`). */
  readonly fullFeatureNames?: boolean;
  /** The entity table's event-timestamp column (default 'event_timestamp'). */
  readonly eventTimestampColumn?: string;
  /** Snapshot window (no entity table): Date, ms since epoch, or ISO text. */
  readonly start?: Date | number | string;
  readonly end?: Date | number | string;
}

const DEFAULT_EVENT_TIMESTAMP = 'event_timestamp';

/**
 * Resolves the request against the registry into the join's input: the views and their features,
 * the output columns, the entity rows. A snapshot (no entity table) lists the views' committed
 * objects in its window (the join builds its entity table from them in DuckDB); otherwise the join
 * lists the objects for the entity rows' time range.
 */
export async function planHistoricalRetrieval(registry: Registry, options: HistoricalFeaturesOptions): Promise<HistoricalJoinInput> {
  const requested = await resolveFeatures(registry, options);
  const views: { view: FeatureView; features: string[] }[] = [];
  const columns: HistoricalOutputColumn[] = [];
  const viewIndex = new Map<string, number>();
  for (const { view, feature } of requested) {
    const id = `${view.name}@${view.version}`;
    let v = viewIndex.get(id);
    if (v === undefined) {
      v = views.length;
      viewIndex.set(id, v);
      views.push({ view, features: [] });
    }
    views[v]!.features.push(feature);
    columns.push({ view: v, feature, name: options.fullFeatureNames ? `${view.name}__${feature}` : feature });
  }
  const eventTimestampColumn = options.eventTimestampColumn ?? DEFAULT_EVENT_TIMESTAMP;
  const given = (options.entities ? 1 : 0) + (options.entitiesFile ? 1 : 0);
  if (given > 1) throw new RangeError('historical features: pass entities or entitiesFile, not both');
  if (given === 1) {
    if (options.start !== undefined || options.end !== undefined) {
      throw new RangeError('historical features: start and end are for a snapshot, without an entity table; the entity table has its own timestamps');
    }
    const entities = options.entities ? { table: options.entities } : { file: options.entitiesFile! };
    return { entities, eventTimestampColumn, views, columns };
  }

  if (options.end === undefined) throw new RangeError('historical features: pass an entity table (entities), or end (and start) for a snapshot');
  const end = toMillis(options.end, 'end');
  const start = options.start === undefined ? null : toMillis(options.start, 'start');
  if (start !== null && start > end) throw new RangeError(`historical features: start (${new Date(start).toISOString()}) is after end (${new Date(end).toISOString()})`);
  const windowed = views.map((v) => ({ ...v, ttlMs: start !== null ? end - start : v.view.ttlSeconds * 1000 }));
  checkSnapshotKeys(windowed.map((v) => v.view), eventTimestampColumn);
  const objects = await Promise.all(windowed.map((v) => committedObjects(registry, v.view, { from: end - v.ttlMs, to: end })));
  return { entities: { snapshot: { end } }, eventTimestampColumn, views: windowed, columns, objects };
}

interface RequestedFeature {
  readonly view: FeatureView;
  readonly feature: string;
}

/**
 * The one place a request's features are resolved (views, versions, order), for the in-process
 * and the distributed retrieval alike: where a check of what the caller may read belongs.
 */
async function resolveFeatures(registry: Registry, options: HistoricalFeaturesOptions): Promise<RequestedFeature[]> {
  const hasFeatures = options.features !== undefined && options.features.length > 0;
  if (hasFeatures === (options.featureService !== undefined)) {
    throw new RangeError('historical features: pass either features (view:feature, ...) or featureService, not both or neither');
  }
  const items: { view: string; version: number | null; features: readonly string[] | null; where: string }[] = [];
  if (options.featureService !== undefined) {
    const service = await registry.getObject('featureService', options.featureService);
    if (!service || service.status === 'removed') {
      throw new RangeError(`feature service '${options.featureService}' is not applied in project '${registry.project}' (run granary apply)`);
    }
    for (const [i, item] of (service.spec as FeatureServiceSpec).items.entries()) {
      items.push({ ...item, where: `feature service '${options.featureService}', features[${i}]` });
    }
  } else {
    for (const text of options.features!) {
      const parsed = parseFeatureRef(text);
      if (!parsed) throw new RangeError(`feature reference '${text}' is not of the form 'view:feature' (or 'view@version:feature', or 'view')`);
      items.push({ view: parsed.view, version: parsed.version, features: parsed.feature ? [parsed.feature] : null, where: `feature '${text}'` });
    }
  }
  const views = new Map<string, FeatureView>();
  const out: RequestedFeature[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const id = `${item.view}@${item.version ?? ''}`;
    let view = views.get(id);
    if (!view) {
      const object = await registry.getObject('featureView', item.view, item.version ?? undefined);
      if (!object || (item.version !== null && object.version !== item.version)) {
        const which = item.version === null ? `'${item.view}'` : `'${item.view}' version ${item.version}`;
        throw new RangeError(`${item.where}: feature view ${which} is not applied in project '${registry.project}' (run granary apply)`);
      }
      view = featureViewFromSpec(object.spec as FeatureViewSpec);
      views.set(id, view);
    }
    for (const feature of item.features ?? view.features.map((f) => f.name)) {
      if (!view.features.some((f) => f.name === feature)) {
        throw new RangeError(`${item.where}: feature view '${view.name}' has no feature '${feature}' (it has: ${view.features.map((f) => f.name).join(', ')})`);
      }
      const key = `${view.name}@${view.version}:${feature}`;
      if (seen.has(key)) throw new RangeError(`${item.where}: '${view.name}:${feature}' is requested twice`);
      seen.add(key);
      out.push({ view, feature });
    }
  }
  return out;
}

/** A snapshot's views must share their join keys (its entity table has one set), none named like the event-timestamp column. */
function checkSnapshotKeys(views: readonly FeatureView[], eventTimestampColumn: string): void {
  const first = views[0]!;
  const signature = (v: FeatureView) => v.entities.map((e) => `${e.joinKey}:${e.valueType}`).join(',');
  for (const view of views) {
    if (signature(view) !== signature(first)) {
      throw new RangeError(
        `a snapshot needs views with the same join keys: '${first.name}' has (${signature(first)}), '${view.name}' has (${signature(view)}); pass an entity table instead`,
      );
    }
  }
  if (first.entities.some((e) => e.joinKey === eventTimestampColumn)) throw new RangeError(`eventTimestampColumn '${eventTimestampColumn}' is a join key`);
}

function toMillis(value: Date | number | string, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new RangeError(`historical features: ${what} ${JSON.stringify(value)} is not a time (ISO 8601 text, a Date or ms since epoch)`);
  return ms;
}
