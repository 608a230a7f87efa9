import { randomBytes } from 'node:crypto';
import { Field, makeData, RecordBatch, Schema, Struct, Table, type Data } from 'apache-arrow';
import { buildColumn } from '../arrow/build-column.ts';
import { arrowTypeOf } from '../arrow/view-schema.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { jsonValueOf } from './json-value.ts';
import type { ServedRead, ServingObserver } from './serving-observer.ts';

/** Offline folder of a project's served samples (not commits: `granary gc` removes them past its grace period). */
export const SERVING_LOG_FOLDER = '_serving_log';

/** The key prefix of one feature service's served samples. */
export function servingLogPrefix(project: string, featureService: string): string {
  return `${project}/${SERVING_LOG_FOLDER}/${featureService}/`;
}

export interface ServingSampleLogOptions {
  readonly offline: Pick<OfflineStore, 'writeTable'>;
  readonly project: string;
  /** Share of reads logged, 0..1. Default 0.01 (config monitoring.skewSampleRate). */
  readonly rate?: number;
  /** How often the buffer is written (ms). Default 10000. */
  readonly flushMs?: number;
  /** Reads held at most between writes; more are dropped (counted). Default 10000. */
  readonly maxReads?: number;
  /** Names this server in object keys. Default random. */
  readonly serverId?: string;
  readonly random?: () => number;
  /** Told when a write fails (the reads are dropped, counted). */
  readonly onError?: (error: Error) => void;
}

/**
 * The skew sample log: a share of the feature server's reads of a feature service (entity keys,
 * request time, every served value with its status and event time) buffered in memory and
 * written every few seconds to the offline store as Parquet, one object per feature service and
 * write, at `<project>/_serving_log/<service>/<write time>-<server>-<n>.parquet`. On the request's
 * path it only draws a random number and, for a sampled read, pushes a reference; the values are
 * encoded (jsonValueOf, as the HTTP answer has them) and written later, never awaited by a read.
 * The monitoring workflow replays the samples (monitoring/measure-skew.ts).
 *
 * Columns, one row per (entity row, feature): request_time_ms, key_<join key> (text), view,
 * feature, value (JSON text, null when the read has none), status, event_time_ms.
 *
 * @example
 *   const log = new ServingSampleLog({ offline, project: 'fraud', rate: 0.01 });
 *   new FeatureServer({ ..., observers: [log] });
 *   log.stats() // => { sampled: 12, written: 10, dropped: 0, failed: 0, objects: 1 }
 */
export class ServingSampleLog implements ServingObserver {
  private readonly options: ServingSampleLogOptions;
  private readonly drawn: (read: ServedRead) => boolean;
  private readonly serverId: string;
  private pending: ServedRead[] = [];
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private count = { sampled: 0, written: 0, dropped: 0, failed: 0, objects: 0 };
  private sequence = 0;

  constructor(options: ServingSampleLogOptions) {
    this.drawn = sampleDraw(options.rate, options.random);
    this.options = options;
    this.serverId = options.serverId ?? randomBytes(4).toString('hex');
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 10_000);
    this.timer.unref();
  }

  served(read: ServedRead): void {
    if (!this.drawn(read)) return;
    if (this.pending.length >= (this.options.maxReads ?? 10_000)) {
      this.count.dropped++;
      return;
    }
    this.count.sampled++;
    this.pending.push(read);
  }

  /** Writes the reads held now (one object per feature service); resolves once written. */
  flush(): Promise<void> {
    const reads = this.pending;
    this.pending = [];
    if (reads.length === 0) return this.writing;
    this.writing = this.writing.then(() => this.write(reads));
    return this.writing;
  }

  stats(): Readonly<typeof this.count> {
    return { ...this.count };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(reads: readonly ServedRead[]): Promise<void> {
    const byService = new Map<string, ServedRead[]>();
    for (const r of reads) {
      const group = byService.get(r.featureService);
      if (group) group.push(r);
      else byService.set(r.featureService, [r]);
    }
    for (const [service, group] of byService) {
      // Objects of at most VALUES_PER_OBJECT values: encoding one holds the event loop for a few
      // ms at most, and the write's await lets requests in before the next.
      for (const chunk of chunks(group)) {
        const stamp = String(Date.now()).padStart(13, '0');
        const key = `${servingLogPrefix(this.options.project, service)}${stamp}-${this.serverId}-${String(this.sequence++).padStart(6, '0')}.parquet`;
        try {
          await this.options.offline.writeTable(key, sampleTable(chunk));
          this.count.objects++;
          this.count.written += chunk.length;
        } catch (error) {
          this.count.failed += chunk.length;
          this.options.onError?.(error as Error);
        }
      }
    }
  }
}

/**
 * The draw that decides whether a read is logged: reads of a feature service only (not by feature
 * list), a share `rate` of them (default 0.01; a rate outside 0..1 is a RangeError).
 *
 * @example
 *   const drawn = sampleDraw(0.5, () => 0.25);
 *   drawn({ featureService: 'model_a', requestTime: 0, table }) // => true
 */
export function sampleDraw(rate = 0.01, random: () => number = Math.random): (read: ServedRead) => boolean {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`monitoring.skewSampleRate: ${rate} is not a share between 0 and 1`);
  return (read) => read.featureService !== '' && rate !== 0 && random() < rate;
}

/** Served values per log object at most (a read is never split). */
const VALUES_PER_OBJECT = 5_000;

function* chunks(reads: readonly ServedRead[]): Generator<ServedRead[]> {
  let chunk: ServedRead[] = [];
  let values = 0;
  for (const r of reads) {
    const n = r.table.rowCount * r.table.columns.length;
    if (chunk.length > 0 && values + n > VALUES_PER_OBJECT) {
      yield chunk;
      chunk = [];
      values = 0;
    }
    chunk.push(r);
    values += n;
  }
  if (chunk.length > 0) yield chunk;
}

/** The long table of some reads of one feature service. */
export function sampleTable(reads: readonly ServedRead[]): Table {
  const joinKeys = [...new Set(reads.flatMap((r) => r.table.joinKeys))];
  const time: number[] = [];
  const keys = joinKeys.map(() => [] as (string | null)[]);
  const view: string[] = [];
  const feature: string[] = [];
  const value: (string | null)[] = [];
  const status: string[] = [];
  const eventTime: (number | null)[] = [];
  for (const { requestTime, table } of reads) {
    const keyAt = joinKeys.map((k) => table.joinKeys.indexOf(k));
    const refs = table.featureRefs.map(splitRef);
    for (let r = 0; r < table.rowCount; r++) {
      table.columns.forEach((column, f) => {
        time.push(requestTime);
        keyAt.forEach((at, k) => keys[k]!.push(at < 0 ? null : String(table.entityColumns[at]![r])));
        view.push(refs[f]!.view);
        feature.push(refs[f]!.feature);
        const v = column.values[r] ?? null;
        value.push(v === null ? null : JSON.stringify(jsonValueOf(v, table.featureTypes[f]!)));
        status.push(column.statuses[r]!);
        eventTime.push(column.eventTimestamps[r] ?? null);
      });
    }
  }
  // buildColumn writes the buffers directly (Arrow's vectorFromArray is ~10x slower for strings).
  const columns: [string, 'float64' | 'string', (number | string | null)[]][] = [
    ['request_time_ms', 'float64', time],
    ...joinKeys.map((k, i): [string, 'string', (string | null)[]] => [`key_${k}`, 'string', keys[i]!]),
    ['view', 'string', view],
    ['feature', 'string', feature],
    ['value', 'string', value],
    ['status', 'string', status],
    ['event_time_ms', 'float64', eventTime],
  ];
  const schema = new Schema(columns.map(([name, type]) => new Field(name, arrowTypeOf(type), true)));
  const children: Data[] = columns.map(([, type, values]) => buildColumn(type, values));
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: time.length, nullCount: 0, children }))]);
}

/** 'view:feature' or 'view@2:feature' to its parts (the version part kept with the view). */
function splitRef(ref: string): { view: string; feature: string } {
  const at = ref.indexOf(':');
  return { view: ref.slice(0, at), feature: ref.slice(at + 1) };
}
