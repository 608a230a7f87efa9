import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { tableToIPC, type Table } from 'apache-arrow';
import { verifyView, type VerifyReport } from '../pipelines/verify-view.ts';
import { verifyOnline, type VerifyOnlineOptions } from './online-verify.ts';
import { compactViews, type CompactOptions } from './view-compaction.ts';
import { compactionSchedules, scheduleCompaction, unscheduleCompaction } from './compaction-schedule.ts';
import type { ScheduleSummary } from './schedule-summaries.ts';
import type { CompactResult } from '../workflows/contracts.ts';
import { repairEntities, type RepairReport } from './entity-repair.ts';
import { getHistoricalFeatures } from '../retrieval/historical-features.ts';
import { writeTrainingSet, type HistoricalRunContext, type HistoricalRunOptions, type HistoricalRunOutput } from './historical-run.ts';
import { createOfflineStore } from '../stores/offline/create-offline-store.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { type HistoricalFeaturesOptions } from '../retrieval/plan-historical-retrieval.ts';
import type { EntityKey } from '../definitions/feature-value.ts';
import { lostGeneration, reportLoss } from './online-loss.ts';
import { rebuildOnline, type RebuildHandle, type RebuildOnlineOptions } from './online-rebuild.ts';
import { whilePolling } from './progress-poller.ts';
import { followMigration, rollbackMigration, startMigration, type MigrateOptions, type MigrationHandle } from './view-migration.ts';
import { retiredMessage, retiringMigration } from '../stores/registry/retiring-migration.ts';
import type { ViewMigrationRecord } from '../stores/registry/view-migrations.ts';
import { viewStatus, type ViewStatus } from './view-status.ts';
import { awaitWithWorkerWatch } from './worker-watch.ts';
import { loadConfig, type GranaryConfig, type LoadConfigOptions } from '../config/granary-config.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { FeatureViewSpec } from '../definitions/spec.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import { OnlineFeatureReader } from '../serving/online-feature-reader.ts';
import { ConsumerAccess } from './consumer-access.ts';
import type { OnlineFeaturesRequest, OnlineFeaturesResult } from '../serving/online-features.ts';
import { toViewTable, type BatchInput } from '../ingest/batch-validation.ts';
import { checkBatchId, stagingKey } from '../stores/offline/object-key.ts';
import { openCheckedStores, type Stores } from '../stores/open-stores.ts';
import { connectClient } from '../workers/temporal-connection.ts';
import {
  materializeProgressQuery,
  workflowIds,
  type IngestResult,
  type MaterializeProgress,
  type ViewRef,
} from '../workflows/contracts.ts';
import type { ingestWorkflow } from '../workflows/ingest-workflow.ts';
import type { materializeWorkflow } from '../workflows/materialize-workflow.ts';
import { ingestStart, materializeStart, workflowTypes } from '../workflows/starters.ts';

export interface PushOptions {
  /** Idempotency key of the batch: the same id is ingested once. Defaults to a hash of the rows. */
  readonly batchId?: string;
  /** The view version; defaults to the highest applied one. */
  readonly version?: number;
  /** Store nulls for feature columns the batch lacks; by default a missing feature column is refused. */
  readonly allowMissingFeatures?: boolean;
}

export interface MaterializeOptions {
  /** Called with the progress of each view's materialization, about twice a second. */
  readonly onProgress?: (ref: ViewRef, progress: MaterializeProgress) => void;
}

/**
 * The Granary SDK: what an application or a notebook calls. Writes go through Temporal
 * workflows (offline first); reads come from the stores.
 *
 * @example
 *   const store = await FeatureStore.open({ repoDir: 'definitions/examples/fraud' });
 *   await store.push('user_spend_features', [{ user_id: 'u1', event_timestamp: new Date(), spend_7d_avg: 12.5 }]);
 *   await store.close();
 */
export class FeatureStore {
  private client: Client | undefined;
  private reader: OnlineFeatureReader | undefined;
  /** This process as a consumer (serving.token / GRANARY_TOKEN): checked before any feature value is read. */
  readonly access: ConsumerAccess;
  private readonly destinations = new Map<string, OfflineStore>();

  private constructor(
    readonly config: GranaryConfig,
    readonly stores: Stores,
  ) {
    this.access = new ConsumerAccess(config);
  }

  /**
   * Opens the stores of the configuration. Refuses (OfflineHomeMismatchError) when the project's
   * offline data is recorded elsewhere than the configured offline store (stores/offline-home.ts).
   */
  static async open(options: LoadConfigOptions & { config?: GranaryConfig } = {}): Promise<FeatureStore> {
    const config = options.config ?? loadConfig(options);
    return new FeatureStore(config, await openCheckedStores(config));
  }

  get project(): string {
    return this.config.project;
  }

  /** The applied view (the given version or the highest), or an error naming it. */
  async view(name: string, version?: number): Promise<FeatureView> {
    const object = await this.stores.registry().getObject('featureView', name, version);
    if (!object) {
      const which = version === undefined ? `'${name}'` : `'${name}' version ${version}`;
      throw new Error(`feature view ${which} is not applied in project '${this.project}' (run granary apply)`);
    }
    return featureViewFromSpec(object.spec);
  }

  /** Every applied view version that is materialized online (not those a completed migration retired). */
  async onlineViews(): Promise<FeatureView[]> {
    const objects = await this.stores.registry().listObjects('featureView');
    const retired = new Set((await this.stores.registry().migrations()).filter((m) => m.state === 'completed').map((m) => `${m.view}@${m.from}`));
    return objects
      .filter((o) => !retired.has(`${o.name}@${o.version}`))
      .map((o) => featureViewFromSpec(o.spec as FeatureViewSpec))
      .filter((v) => v.online);
  }

  /**
   * Ingests a batch: validates every row against the view (nothing is written when one is
   * bad), stages it, then runs the ingestion workflow (offline write, commit, materialize) and
   * waits for it.
   */
  async push(viewName: string, input: BatchInput, options: PushOptions = {}): Promise<IngestResult> {
    const view = await this.view(viewName, options.version);
    const retired = await retiringMigration(this.stores.registry(), view.name, view.version);
    if (retired) throw new Error(retiredMessage(view.name, view.version, retired));
    const table = toViewTable(view, input, {
      allowMissingFeatures: options.allowMissingFeatures === true,
      maxFutureSkewMs: this.config.ingest.maxFutureSkewMs,
    });
    const batchId = options.batchId ?? `sha-${createHash('sha256').update(tableToIPC(table)).digest('hex').slice(0, 24)}`;
    checkBatchId(batchId);
    const ref: ViewRef = { project: this.project, view: view.name, version: view.version };
    const staged = stagingKey(ref.project, ref.view, ref.version, batchId);
    await this.stores.offline.writeTable(staged, table);
    const client = await this.temporal();
    let handle: WorkflowHandle<typeof ingestWorkflow>;
    try {
      handle = await client.workflow.start<typeof ingestWorkflow>(workflowTypes.ingest, ingestStart({ ...ref, batchId, stagingKey: staged }, this.config.temporal.taskQueue));
    } catch (error) {
      // Completed before: this batch was ingested already; nothing new is written. Its rows being
      // online is re-checked, not repeated: Redis may have lost them since (issue 12, 6b).
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const previous = await this.waitOnWorkflows(() => client.workflow.getHandle<typeof ingestWorkflow>(workflowIds.ingest(ref, batchId)).result());
      const lost = previous.materialized ? await lostGeneration(this.stores.registry(), this.stores.online, this.project, view) : null;
      if (!lost) return { ...previous, created: false };
      const settings = { taskQueue: this.config.temporal.taskQueue, onRedisLoss: this.config.online.onRedisLoss };
      return { ...previous, created: false, materialized: false, reason: await reportLoss(client, settings, ref, lost) };
    }
    return this.waitOnWorkflows(() => handle.result());
  }

  /**
   * Materializes the views (all online views when none are named) up to their latest commits,
   * through each view's one materialization workflow (started, or joined when running).
   */
  async materialize(viewNames: readonly string[] = [], options: MaterializeOptions = {}): Promise<MaterializeProgress[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const client = await this.temporal();
    const runs = () =>
      Promise.all(
      views.map(async (view) => {
        const ref: ViewRef = { project: this.project, view: view.name, version: view.version };
        const handle = await client.workflow.signalWithStart<typeof materializeWorkflow, []>(workflowTypes.materialize, materializeStart(ref, this.config.temporal.taskQueue));
        // One progress query at a time, none left in flight (sdk/progress-poller.ts): a query the
        // client retries after the connection closed kills the process.
        const report = options.onProgress && ((p: MaterializeProgress) => options.onProgress!(ref, p));
        const result = await whilePolling(client, handle, materializeProgressQuery, report, handle.result());
        report?.(result);
        return result;
      }),
    );
    return this.waitOnWorkflows(runs);
  }

  /**
   * Checks online against offline for the views (all online views when none are named), entity
   * by entity, with the partitioned verify workflow (sdk/online-verify.ts): a worker runs it.
   */
  async verify(viewNames: readonly string[] = [], options: VerifyOnlineOptions = {}): Promise<VerifyReport[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const refs = views.map((v) => ({ project: this.project, view: v.name, version: v.version }));
    return this.waitOnWorkflows(async () => verifyOnline(await this.temporal(), this.config.temporal.taskQueue, refs, options));
  }

  /**
   * The same check in this process, whole view at a time (pipelines/verify-view.ts): no worker
   * needed, memory grows with the view. The reference the partitioned verify is tested against.
   */
  async verifyInProcess(viewNames: readonly string[] = []): Promise<VerifyReport[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const reports: VerifyReport[] = [];
    for (const view of views) {
      reports.push(
        await verifyView(
          { registry: this.stores.registry(), offline: this.stores.offline, online: this.stores.online },
          { project: this.project, view: view.name, version: view.version },
          { maxFutureSkewMs: this.config.ingest.maxFutureSkewMs },
        ),
      );
    }
    return reports;
  }

  /**
   * Re-derives entities of a view from the offline store, refusing committed rows whose event or
   * created time is later than their commit's time + ingest.maxFutureSkew, and writes the result
   * to the online store unconditionally (sdk/entity-repair.ts): the way to correct an entity
   * poisoned by a far-future row.
   *
   * @example
   *   await store.repair('user_spend_features', [['u1']]) // => { entities: [{ entity: 'u1', action: 'written', ... }], ... }
   */
  async repair(viewName: string, entityKeys: readonly EntityKey[], options: { version?: number } = {}): Promise<RepairReport> {
    const view = await this.view(viewName, options.version);
    return repairEntities(
      { registry: this.stores.registry(), offline: this.stores.offline, online: this.stores.online },
      { project: this.project, view: view.name, version: view.version },
      entityKeys,
      { maxFutureSkewMs: this.config.ingest.maxFutureSkewMs },
    );
  }

  /**
   * Compacts the views (all online views when none are named) into latest-value snapshots
   * (sdk/view-compaction.ts): a later rebuild reads each snapshot and only the commits after it.
   */
  async compact(viewNames: readonly string[] = [], options: CompactOptions = {}): Promise<CompactResult[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const refs = views.map((v) => ({ project: this.project, view: v.name, version: v.version }));
    return this.waitOnWorkflows(async () => compactViews(await this.temporal(), this.config.temporal.taskQueue, refs, options));
  }

  /**
   * Compacts the view on a Temporal Schedule, every `every` (sdk/compaction-schedule.ts); creates or
   * updates it. `version`: the view version (default the highest applied).
   */
  async scheduleCompaction(viewName: string, options: CompactOptions & { every: string; version?: number }): Promise<'created' | 'updated'> {
    const { every, version, ...tuning } = options;
    const view = await this.view(viewName, version);
    return scheduleCompaction(await this.temporal(), this.config.temporal.taskQueue, { project: this.project, view: view.name, version: view.version, ...tuning }, { every });
  }

  /** The project's compaction schedules (sdk/compaction-schedule.ts): spec, state, next and recent runs. */
  async compactionSchedules(): Promise<ScheduleSummary[]> {
    return compactionSchedules(await this.temporal(), this.project);
  }

  /** Deletes the view's compaction schedule (sdk/compaction-schedule.ts); a view without one is an error. */
  async unscheduleCompaction(viewName: string, options: { version?: number } = {}): Promise<void> {
    const view = await this.view(viewName, options.version);
    await unscheduleCompaction(await this.temporal(), { project: this.project, view: view.name, version: view.version });
  }

  /**
   * Rebuilds the online store of the views (all online views when none are named) from the
   * offline store into a new generation, then cuts over (sdk/online-rebuild.ts).
   */
  async rebuildOnline(viewNames: readonly string[] = [], options: RebuildOnlineOptions = {}): Promise<RebuildHandle[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const refs = views.map((v) => ({ project: this.project, view: v.name, version: v.version }));
    return this.waitOnWorkflows(async () => rebuildOnline(await this.temporal(), this.config.temporal.taskQueue, refs, options));
  }

  /**
   * Starts the migration of a view to its version declared with `migrateFrom` (or attaches to
   * the one running): backfill, materialize, verify, switch the unpinned feature services,
   * deprecate the old version and remove its online keys after the grace period
   * (workflows/migrate-view-workflow.ts). With `wait: 'switched'`, returns once services read
   * the new version.
   *
   * @example
   *   const { progress } = await store.migrate('user_spend_features', { to: 2, wait: 'switched' });
   *   progress.switchedServices // => ['fraud_model_latest']
   */
  async migrate(viewName: string, options: MigrateOptions = {}): Promise<MigrationHandle> {
    return this.waitOnWorkflows(async () => startMigration(await this.temporal(), this.config.temporal.taskQueue, this.stores.registry(), viewName, options));
  }

  /** Follows the view's migration (to `options.to`, or its newest) until it switched, or ended. */
  async followMigration(viewName: string, options: Pick<MigrateOptions, 'to' | 'onProgress'> & { wait: 'switched' | 'done' }): Promise<MigrationHandle> {
    return this.waitOnWorkflows(async () => followMigration(await this.temporal(), this.stores.registry(), viewName, options));
  }

  /** Returns the view's feature services to the old version while it still exists (sdk/view-migration.ts). */
  async rollbackMigration(viewName: string, options: { to?: number; reason?: string } = {}): Promise<ViewMigrationRecord> {
    return this.waitOnWorkflows(async () => rollbackMigration(await this.temporal(), this.stores.registry(), viewName, options));
  }

  /** The project's migrations (of one view), with their state. */
  async migrations(viewName?: string): Promise<ViewMigrationRecord[]> {
    return this.stores.registry().migrations(viewName === undefined ? {} : { view: viewName });
  }

  /** Per view: generations, watermark, last materialization and rebuild, freshness (sdk/view-status.ts). */
  async status(viewNames: readonly string[] = []): Promise<ViewStatus[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const client = await this.temporal();
    return Promise.all(views.map((v) => viewStatus(this.stores.registry(), this.stores.online, client, this.project, v)));
  }

  /**
   * A point-in-time-correct training set (or, without entities, a snapshot) from the committed
   * offline objects, as an Arrow table (retrieval/historical-features.ts).
   *
   * @example
   *   await store.getHistoricalFeatures({ entities: labels, featureService: 'fraud_model_v1' })
   */
  async getHistoricalFeatures(options: HistoricalFeaturesOptions): Promise<Table> {
    await this.access.checkOffline(this.stores.registry(), options);
    return getHistoricalFeatures(this.stores.registry(), this.stores.offline, options);
  }

  /**
   * The same training set written straight to a Parquet file by DuckDB, never held in memory
   * (what `granary historical` does); `entitiesFile` names a .parquet or .csv label file; `out` is
   * a local path or an `s3://bucket/key` URL. With `distributed` (or above `distributedAboveRows`
   * label plus committed feature rows, 20M by default) it runs across workers as the workflow
   * `historical/<project>/<id>` (sdk/historical-run.ts), with the same result.
   *
   * @example
   *   await store.writeHistoricalFeatures({ entitiesFile: 'labels.parquet', featureService: 'fraud_model_v1' }, 'train.parquet')
   *   // => { rows: 1000000, bytes: 21337120, columns: ['user_id', 'event_timestamp', 'is_fraud', 'spend_7d_avg', 'txn_count_7d'], workflowId: null, partitions: null }
   */
  async writeHistoricalFeatures(options: HistoricalRunOptions, out: string): Promise<HistoricalRunOutput> {
    await this.access.checkOffline(this.stores.registry(), options);
    return writeTrainingSet(this.historicalContext(), options, out);
  }

  /** What a training set run needs: the stores, Temporal when it goes across workers, S3 destinations with the offline store's settings. */
  private historicalContext(): HistoricalRunContext {
    return {
      registry: this.stores.registry(),
      offline: this.stores.offline,
      project: this.config.project,
      temporal: async () => ({ client: await this.temporal(), taskQueue: this.config.temporal.taskQueue }),
      s3Bucket: (bucket) => {
        const offline = this.config.offline;
        if (offline.kind !== 's3') throw new RangeError(`an s3:// destination uses the S3 offline store's endpoint and credentials, and the offline store is a local folder (${offline.path})`);
        let store = this.destinations.get(bucket);
        if (!store) this.destinations.set(bucket, (store = createOfflineStore({ ...offline, bucket, prefix: '' })));
        return store;
      },
      waitOnWorkflow: (work) => this.waitOnWorkflows(work),
    };
  }

  /**
   * The latest feature values of entities, from the online store (never through Temporal): for
   * every entity row, the values in the order of the request or the feature service, each with
   * its status (PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE: stale values are null) and its
   * view row's event timestamp. One Redis round trip per call; definitions and active
   * generations are cached and refreshed in the background. See serving/online-features.ts.
   *
   * @example
   *   const { featureNames, rows } = await store.getOnlineFeatures({ featureService: 'fraud_model_v1', entityRows: [{ user_id: 'u1' }] });
   */
  async getOnlineFeatures(request: OnlineFeaturesRequest): Promise<OnlineFeaturesResult> {
    this.reader ??= new OnlineFeatureReader({ registry: this.stores.registry(), online: this.stores.online });
    const served = await this.access.checkOnline(this.reader, request);
    const result = await this.reader.getOnlineFeatures(request);
    served();
    return result;
  }

  /**
   * Where the SDK says that no worker polls the task queue while it waits on a workflow
   * (sdk/worker-watch.ts); stderr by default.
   */
  workerNotice: (message: string) => void = (message) => void process.stderr.write(`${message}\n`);

  /**
   * Every wait on a workflow goes through here: it says when no worker polls the task queue and
   * stops with a NoWorkerError after `temporal.workerTimeoutSeconds` without one (sdk/worker-watch.ts).
   */
  private async waitOnWorkflows<T>(work: () => Promise<T>): Promise<T> {
    const { namespace, taskQueue, workerTimeoutSeconds } = this.config.temporal;
    return awaitWithWorkerWatch(await this.temporal(), work, { namespace, taskQueue, timeoutSeconds: workerTimeoutSeconds, notify: this.workerNotice });
  }

  async temporal(): Promise<Client> {
    this.client ??= await connectClient(this.config.temporal);
    return this.client;
  }

  async close(): Promise<void> {
    this.reader?.close();
    await Promise.allSettled([this.access.close(), this.stores.close(), this.client?.connection.close(), ...[...this.destinations.values()].map((d) => d.close())]);
  }
}
