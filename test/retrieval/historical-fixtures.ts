import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import type { OfflineStore } from '../../stores/offline/offline-store.ts';
import { readTrainingSet } from '../../retrieval/historical-features.ts';
import { joinHistoricalPartition, mergeHistoricalPartitions } from '../../retrieval/historical-partition-join.ts';
import { dropHistoricalScratch, historicalScratch } from '../../retrieval/historical-scratch.ts';
import { splitHistorical, type HistoricalSplit } from '../../retrieval/historical-split.ts';
import { planHistoricalRetrieval, type HistoricalFeaturesOptions } from '../../retrieval/plan-historical-retrieval.ts';
import { Field, makeData, RecordBatch, Schema, Struct, Table, type Data } from 'apache-arrow';
import type { FeatureRepo } from '../../definitions/feature-repo.ts';
import type { ValueType } from '../../definitions/value-type.ts';
import { featureViewFromSpec } from '../../definitions/view-from-spec.ts';
import { toViewTable, type BatchRow } from '../../ingest/batch-validation.ts';
import { buildColumn } from '../../arrow/build-column.ts';
import { createOfflineStore } from '../../stores/offline/create-offline-store.ts';
import { eventDateOf, objectKey } from '../../stores/offline/object-key.ts';
import { eventTimeRange } from '../../pipelines/row-conversion.ts';
import { arrowTypeOf } from '../../arrow/view-schema.ts';
import type { FeatureValue } from '../../definitions/feature-value.ts';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import type { CommitObject } from '../../stores/registry/commit-log.ts';
import { tempDir } from '../support/temp-dir.ts';
import { testConfig } from '../support/test-config.ts';

/**
 * One test file's own project in the real registry (PostgreSQL) with the repo applied, and an
 * offline store: a local folder by default (fast), or the stack's MinIO with `s3: true`. Rows are
 * committed the way the ingestion workflow commits them (write objects, then insert the commit
 * row), without going through Temporal.
 */
export async function historicalFixture(name: string, repo: FeatureRepo, options: { s3?: boolean } = {}) {
  const overrides: Record<string, string> = options.s3 ? {} : { GRANARY_OFFLINE_URL: await tempDir(`historical-${name}`) };
  const { config, env } = testConfig(name, overrides);
  const registry = new PostgresRegistry({ url: config.registry.url, project: config.project });
  await registry.migrate();
  await registry.apply(repo);
  const offline = createOfflineStore(config.offline);
  await offline.ensureReady();
  after(async () => {
    await Promise.allSettled([registry.close(), offline.close()]);
  });

  /** Writes rows as one or more objects of the view's current schema; commits them unless commit is false. */
  async function commitRows(viewName: string, rows: readonly BatchRow[], opts: { batchId: string; objects?: number; commit?: boolean }): Promise<void> {
    const object = await registry.getObject('featureView', viewName);
    if (!object) throw new Error(`view ${viewName} not applied`);
    const view = featureViewFromSpec(object.spec);
    const parts = Math.max(1, Math.min(opts.objects ?? 1, rows.length));
    const objects: CommitObject[] = [];
    for (let part = 0; part < parts; part++) {
      const slice = rows.filter((_, i) => i % parts === part);
      const table = toViewTable(view, slice);
      const range = eventTimeRange(view, table);
      const key = objectKey({ project: config.project, view: view.name, version: view.version, eventDate: eventDateOf(range.min), batchId: opts.batchId, part });
      const info = await offline.writeTable(key, table);
      objects.push({ key, rowCount: info.rowCount, bytes: info.bytes, checksum: info.checksum, minEventTime: new Date(range.min), maxEventTime: new Date(range.max) });
    }
    if (opts.commit === false) return;
    await registry.commit({ view: view.name, version: view.version, batchId: opts.batchId, schemaVersion: object.schemaVersion, objects });
  }

  return { config, env, registry, offline, commitRows };
}

/** A table with exactly the given column types (timestamps as ms numbers, int64 as bigint). */
export function typedTable(columns: readonly { name: string; type: ValueType; values: readonly (FeatureValue | null)[] }[]): Table {
  const fields = columns.map((c) => new Field(c.name, arrowTypeOf(c.type), true));
  const schema = new Schema(fields);
  const length = columns[0]?.values.length ?? 0;
  const children: Data[] = columns.map((c) => buildColumn(c.type, c.values));
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }))]);
}

/** The rows of a table as plain objects (timestamps as ms, int64 as bigint). */
export function rowsOf(table: Table): Record<string, unknown>[] {
  return table.toArray().map((row) => {
    const out: Record<string, unknown> = {};
    for (const f of table.schema.fields) out[f.name] = (row as Record<string, unknown>)[f.name] ?? null;
    return out;
  });
}

/**
 * A distributed training set's steps run one after the other in this process (what the
 * historical workflow's activities do on any workers): plan and split into `partitions`, join
 * each partition, merge; then the result read back (timestamps in ms) and the run's scratch and
 * result deleted.
 */
export async function distributedTrainingSet(
  store: { registry: PostgresRegistry; offline: OfflineStore },
  options: HistoricalFeaturesOptions,
  partitions: number,
): Promise<{ table: Table; split: HistoricalSplit }> {
  const run = { project: store.registry.project, id: `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}` };
  try {
    const split = await splitHistorical(store.registry, store.offline, await planHistoricalRetrieval(store.registry, options), { ...run, partitions }, options);
    for (let p = 0; p < split.partitions; p++) await joinHistoricalPartition(store.offline, run, p, options);
    await mergeHistoricalPartitions(store.offline, run, options);
    const path = join(await tempDir('distributed-out'), `${run.id}.parquet`);
    await writeFile(path, await store.offline.getBytes(historicalScratch(run.project, run.id).result));
    return { table: await readTrainingSet(path), split };
  } finally {
    await dropHistoricalScratch(store.offline, run.project, run.id);
    await store.offline.delete(historicalScratch(run.project, run.id).result).catch(() => undefined);
  }
}
