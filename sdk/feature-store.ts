import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { tableToIPC, type Table } from 'apache-arrow';
import { verifyView, type VerifyReport } from '../activities/verify-view.ts';
import { loadConfig, type GranaryConfig, type LoadConfigOptions } from '../config/granary-config.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import type { FeatureViewSpec } from '../definitions/spec.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import { toViewTable, type BatchInput } from '../stores/offline/batch-validation.ts';
import { checkBatchId, stagingKey } from '../stores/offline/object-key.ts';
import { openStores, type Stores } from '../stores/open-stores.ts';
import { connectClient } from '../workers/temporal-connection.ts';
import {
  commitsAvailableSignal,
  materializeProgressQuery,
  workflowIds,
  type IngestResult,
  type MaterializeProgress,
  type ViewRef,
} from '../workflows/contracts.ts';
import type { ingestWorkflow } from '../workflows/ingest-workflow.ts';
import type { materializeWorkflow } from '../workflows/materialize-workflow.ts';

export interface PushOptions {
  /** Idempotency key of the batch: the same id is ingested once. Defaults to a hash of the rows. */
  readonly batchId?: string;
  /** The view version; defaults to the highest applied one. */
  readonly version?: number;
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

  private constructor(
    readonly config: GranaryConfig,
    readonly stores: Stores,
  ) {}

  static async open(options: LoadConfigOptions & { config?: GranaryConfig } = {}): Promise<FeatureStore> {
    const config = options.config ?? loadConfig(options);
    return new FeatureStore(config, openStores(config));
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

  /** Every applied view version that is materialized online. */
  async onlineViews(): Promise<FeatureView[]> {
    const objects = await this.stores.registry().listObjects('featureView');
    return objects.map((o) => featureViewFromSpec(o.spec as FeatureViewSpec)).filter((v) => v.online);
  }

  /**
   * Ingests a batch: validates every row against the view (nothing is written when one is
   * bad), stages it, then runs the ingestion workflow (offline write, commit, materialize) and
   * waits for it.
   */
  async push(viewName: string, input: BatchInput, options: PushOptions = {}): Promise<IngestResult> {
    const view = await this.view(viewName, options.version);
    const table = toViewTable(view, input);
    const batchId = options.batchId ?? `sha-${createHash('sha256').update(tableToIPC(table)).digest('hex').slice(0, 24)}`;
    checkBatchId(batchId);
    const ref: ViewRef = { project: this.project, view: view.name, version: view.version };
    const staged = stagingKey(ref.project, ref.view, ref.version, batchId);
    await this.stores.offline.writeTable(staged, table);
    const client = await this.temporal();
    let handle: WorkflowHandle<typeof ingestWorkflow>;
    try {
      handle = await client.workflow.start<typeof ingestWorkflow>('ingestWorkflow', {
        workflowId: workflowIds.ingest(ref, batchId),
        taskQueue: this.config.temporal.taskQueue,
        args: [{ ...ref, batchId, stagingKey: staged }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      });
    } catch (error) {
      // Completed before: this batch was ingested already; that result stands, nothing new was written.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const previous = await client.workflow.getHandle<typeof ingestWorkflow>(workflowIds.ingest(ref, batchId)).result();
      return { ...previous, created: false };
    }
    return handle.result();
  }

  /**
   * Materializes the views (all online views when none are named) up to their latest commits,
   * through each view's one materialization workflow (started, or joined when running).
   */
  async materialize(viewNames: readonly string[] = [], options: MaterializeOptions = {}): Promise<MaterializeProgress[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const client = await this.temporal();
    return Promise.all(
      views.map(async (view) => {
        const ref: ViewRef = { project: this.project, view: view.name, version: view.version };
        const handle = await client.workflow.signalWithStart<typeof materializeWorkflow, []>('materializeWorkflow', {
          workflowId: workflowIds.materialize(ref),
          taskQueue: this.config.temporal.taskQueue,
          args: [ref],
          signal: commitsAvailableSignal,
          signalArgs: [],
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        });
        const timer = options.onProgress
          ? setInterval(() => {
              handle.query(materializeProgressQuery).then((p) => options.onProgress?.(ref, p), () => undefined);
            }, 500)
          : undefined;
        try {
          const result = await handle.result();
          options.onProgress?.(ref, result);
          return result;
        } finally {
          clearInterval(timer);
        }
      }),
    );
  }

  /** Checks online against offline for the views (all online views when none are named). */
  async verify(viewNames: readonly string[] = []): Promise<VerifyReport[]> {
    const views = viewNames.length ? await Promise.all(viewNames.map((n) => this.view(n))) : await this.onlineViews();
    const reports: VerifyReport[] = [];
    for (const view of views) {
      reports.push(
        await verifyView(
          { registry: this.stores.registry(), offline: this.stores.offline, online: this.stores.online },
          { project: this.project, view: view.name, version: view.version },
        ),
      );
    }
    return reports;
  }

  async temporal(): Promise<Client> {
    this.client ??= await connectClient(this.config.temporal);
    return this.client;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.stores.close(), this.client?.connection.close()]);
  }
}
