import type { FeatureView } from '../definitions/feature-view.ts';
import { OnlineStoreError } from '../stores/online/online-store-error.ts';
import { onlineTargetOf, type OnlineRead, type OnlineRow, type OnlineStore, type OnlineTarget } from '../stores/online/online-store.ts';
import { type FeatureValue } from '../definitions/feature-value.ts';
import type { Registry } from '../stores/registry/registry.ts';
import { CatalogCache } from './catalog-cache.ts';
import { entityColumnsFromRows, type EntityColumns } from './entity-columns.ts';
import type { FeatureStatus } from './feature-status.ts';
import { GenerationCache } from './generation-cache.ts';
import { HotKeyCache, type HotKeyCacheOptions } from './hot-key-cache.ts';
import { columnsToResult, type OnlineFeatureColumn, type OnlineFeatureColumns, type OnlineFeaturesRequest, type OnlineFeaturesResult } from './online-features.ts';
import type { FeaturePlan, PlanRequest, ServingCatalog } from './serving-catalog.ts';
import { ServingError } from './serving-error.ts';

/** The stores and caches an online feature reader reads through. */
export interface OnlineFeatureReaderOptions {
  readonly registry: Pick<Registry, 'project' | 'listObjects' | 'activeGeneration'>;
  readonly online: Pick<OnlineStore, 'readRows'>;
  /** How often definitions are checked for changes. Default 2000 ms. */
  readonly definitionsRefreshMs?: number;
  /** How often active generations are re-read. Default 1000 ms. */
  readonly generationRefreshMs?: number;
  /** Deadline of a registry query the read waits on (first use only). Default 2000 ms. */
  readonly registryTimeoutMs?: number;
  /** Entity rows per call at most. Default unlimited. */
  readonly maxEntities?: number;
  /** The opt-in hot-key cache; off when omitted. */
  readonly hotKeyCache?: HotKeyCacheOptions;
  /** Told about each read that the online store failed. */
  readonly onOnlineStoreError?: (error: OnlineStoreError) => void;
  /** Told the statuses of each read's values. */
  readonly onStatuses?: (counts: Readonly<Record<FeatureStatus, number>>) => void;
}

/**
 * The online read path, shared by the SDK (`FeatureStore.getOnlineFeatures`) and the HTTP
 * feature server. Never goes through Temporal. Per call:
 *
 * 1. the request resolves against the cached registry definitions into a plan (CatalogCache);
 * 2. entity keys are checked against each join key's declared type (entity-columns.ts);
 * 3. every view's active generation comes from the cache (GenerationCache, refreshed in the
 *    background, so a rebuild's cut-over is followed without a restart);
 * 4. one `readRows` call: one pipelined round trip to Redis, whatever the number of views and
 *    entities (or none when the opt-in hot-key cache has every row);
 * 5. each value gets its status; the TTL is applied here, at read time: a row whose event time
 *    is before now - TTL is OUTSIDE_MAX_AGE and its value is null;
 * 6. when the request names a feature service that declares a default for a feature, a
 *    NOT_FOUND or OUTSIDE_MAX_AGE value is served as that default, its status unchanged (and
 *    counted as such); a NULL_VALUE stays null. Without a default the read is fail-closed: null.
 *
 * @example
 *   const reader = new OnlineFeatureReader({ registry, online });
 *   const result = await reader.getOnlineFeatures({ features: ['driver_stats:trips'], entityRows: [{ driver_id: 1001 }] });
 *   result.rows[0].statuses // => ['PRESENT']
 *   reader.close();
 */
export class OnlineFeatureReader {
  readonly catalog: CatalogCache;
  readonly generations: GenerationCache;
  readonly hotKeys: HotKeyCache | undefined;
  private readonly targets = new WeakMap<FeatureView, OnlineTarget>();

  constructor(private readonly options: OnlineFeatureReaderOptions) {
    const timeoutMs = options.registryTimeoutMs ?? 2000;
    this.hotKeys = options.hotKeyCache ? new HotKeyCache(options.hotKeyCache) : undefined;
    this.catalog = new CatalogCache(options.registry, { refreshMs: options.definitionsRefreshMs, timeoutMs });
    this.generations = new GenerationCache(options.registry, {
      refreshMs: options.generationRefreshMs,
      timeoutMs,
      onChange: () => this.hotKeys?.clear(),
    });
  }

  get project(): string {
    return this.options.registry.project;
  }

  /** Features, statuses and event timestamps for every entity row (see OnlineFeaturesRequest). */
  async getOnlineFeatures(request: OnlineFeaturesRequest): Promise<OnlineFeaturesResult> {
    if (typeof request !== 'object' || request === null) throw new ServingError('INVALID_REQUEST', 'getOnlineFeatures takes { features | featureService, entityRows }');
    const plan = await this.plan(checkPlanRequest(request));
    const entities = entityColumnsFromRows(request.entityRows, plan, this.options.maxEntities);
    return columnsToResult(await this.read(plan, entities));
  }

  /**
   * The plan of a request. A name the cached definitions do not know makes them refresh first
   * (at most once per quarter of the refresh period), so a just-applied service is found.
   */
  async plan(request: PlanRequest): Promise<FeaturePlan> {
    let catalog: ServingCatalog = await this.catalog.current();
    try {
      return catalog.plan(request);
    } catch (error) {
      if (!(error instanceof ServingError) || error.statusCode !== 404) throw error;
      catalog = await this.catalog.refreshIfOlderThan(this.catalog.refreshMs / 4);
      return catalog.plan(request);
    }
  }

  /** Reads a plan for checked entities: one online store round trip. */
  async read(plan: FeaturePlan, entities: EntityColumns): Promise<OnlineFeatureColumns> {
    const rowCount = entities.rowCount;
    const reads: OnlineRead[] = new Array(plan.views.length);
    for (let v = 0; v < plan.views.length; v++) {
      const planned = plan.views[v]!;
      const { view } = planned;
      const cached = this.generations.get(view.name, view.version);
      const generation = typeof cached === 'number' ? cached : await cached;
      const entityKeys = new Array<(string | number | bigint)[]>(rowCount);
      const [only] = planned.keyIndexes;
      if (planned.keyIndexes.length === 1) {
        const column = entities.columns[only!]!;
        for (let r = 0; r < rowCount; r++) entityKeys[r] = [column[r]!];
      } else {
        for (let r = 0; r < rowCount; r++) entityKeys[r] = planned.keyIndexes.map((k) => entities.columns[k]![r]!);
      }
      reads[v] = { target: this.targetOf(view, generation), entityKeys, features: this.hotKeys ? undefined : planned.featureNames };
    }

    let rows: (OnlineRow | null)[][];
    if (rowCount === 0) rows = reads.map(() => []);
    else {
      try {
        rows = this.hotKeys ? await this.hotKeys.readRows(this.options.online, reads) : await this.options.online.readRows(reads);
      } catch (error) {
        if (error instanceof OnlineStoreError) {
          this.options.onOnlineStoreError?.(error);
          throw new ServingError('ONLINE_STORE_UNAVAILABLE', error.message, { cause: error });
        }
        throw error;
      }
    }

    const now = Date.now();
    const counts: Record<FeatureStatus, number> = { PRESENT: 0, NULL_VALUE: 0, NOT_FOUND: 0, OUTSIDE_MAX_AGE: 0 };
    // What every feature of a view shares, per entity row: whether the row is there and fresh,
    // its event time, and the statuses when no value is a stored null. Columns of one view get
    // the same eventTimestamps array (and statuses array, unless a value is NULL_VALUE), which
    // the JSON writer then writes once (feast-format.ts feastResponseJson).
    const shared = plan.views.map((planned, v) => {
      const viewRows = rows[v]!;
      const oldest = now - planned.view.ttlSeconds * 1000;
      const statuses = new Array<FeatureStatus>(rowCount);
      const eventTimestamps = new Array<number | null>(rowCount);
      let missing = 0;
      let stale = 0;
      for (let r = 0; r < rowCount; r++) {
        const row = viewRows[r];
        if (!row) {
          statuses[r] = 'NOT_FOUND';
          eventTimestamps[r] = null;
          missing++;
        } else {
          statuses[r] = row.eventTime < oldest ? 'OUTSIDE_MAX_AGE' : 'PRESENT';
          eventTimestamps[r] = row.eventTime;
          if (row.eventTime < oldest) stale++;
        }
      }
      return { viewRows, statuses, eventTimestamps, missing, stale };
    });
    const columns = plan.features.map((planned): OnlineFeatureColumn => {
      const { viewRows, statuses: viewStatuses, eventTimestamps, missing, stale } = shared[planned.viewIndex]!;
      const name = planned.feature.name;
      const fallback = planned.defaultValue;
      // Bytes are mutable: each row gets its own copy of a bytes default, never the plan's.
      const copyFallback = hasBytes(fallback);
      const values = new Array<FeatureValue | null>(rowCount);
      let statuses = viewStatuses;
      let nulls = 0;
      for (let r = 0; r < rowCount; r++) {
        const status = viewStatuses[r]!;
        if (status !== 'PRESENT') {
          values[r] = copyFallback ? copyBytes(fallback!) : fallback;
          continue;
        }
        const value = viewRows[r]!.values[name] ?? null;
        values[r] = value;
        if (value === null) {
          if (statuses === viewStatuses) statuses = viewStatuses.slice();
          statuses[r] = 'NULL_VALUE';
          nulls++;
        }
      }
      counts.NOT_FOUND += missing;
      counts.OUTSIDE_MAX_AGE += stale;
      counts.NULL_VALUE += nulls;
      counts.PRESENT += rowCount - missing - stale - nulls;
      return { values, statuses, eventTimestamps };
    });
    this.options.onStatuses?.(counts);
    return {
      joinKeys: plan.joinKeys.map((k) => k.name),
      entityColumns: entities.columns,
      featureNames: plan.features.map((f) => f.name),
      featureRefs: plan.features.map((f) => f.ref),
      featureTypes: plan.features.map((f) => f.feature.type),
      columns,
      rowCount,
    };
  }

  /** Stops the background refreshes (the stores are the caller's to close). */
  close(): void {
    this.catalog.close();
    this.generations.close();
  }

  private targetOf(view: FeatureView, generation: number): OnlineTarget {
    let target = this.targets.get(view);
    if (!target || target.generation !== generation) {
      target = onlineTargetOf(this.project, view, generation);
      this.targets.set(view, target);
    }
    return target;
  }
}

function hasBytes(value: FeatureValue | null): boolean {
  return value instanceof Uint8Array || (Array.isArray(value) && value.some((item) => item instanceof Uint8Array));
}

function copyBytes(value: FeatureValue): FeatureValue {
  if (value instanceof Uint8Array) return value.slice();
  return Object.freeze((value as readonly (FeatureValue | null)[]).map((item) => (item instanceof Uint8Array ? item.slice() : item)));
}

/** The plan part of a request, its shape checked (a 400 ServingError naming the field). */
export function checkPlanRequest(request: OnlineFeaturesRequest): PlanRequest {
  const { features, featureService, fullFeatureNames } = request;
  if ((features === undefined) === (featureService === undefined)) {
    throw new ServingError('INVALID_REQUEST', "give either 'features' (a list of 'view:feature') or 'featureService' (a name), not both or neither");
  }
  if (features !== undefined && (!Array.isArray(features) || features.some((f) => typeof f !== 'string'))) {
    throw new ServingError('INVALID_REQUEST', "'features' must be a list of 'view:feature' strings");
  }
  if (featureService !== undefined && (typeof featureService !== 'string' || featureService === '')) {
    throw new ServingError('INVALID_REQUEST', "'featureService' must be a feature service's name");
  }
  if (fullFeatureNames !== undefined && typeof fullFeatureNames !== 'boolean') {
    throw new ServingError('INVALID_REQUEST', "'fullFeatureNames' must be true or false");
  }
  return { features, featureService, fullFeatureNames };
}
