/**
 * A quick measurement, not a test: 2M rows x 10 features (5 float32, 5 int64, 100k users) through
 * the offline store: validate an Arrow input, write (Parquet, zstd), read back row group by row
 * group, convert to online rows. Prints one JSON object.
 *
 *   npm run bench -- offline-store [rows] [local|s3]
 */
import { Float32, Int64, makeData, makeVector, Table, TimestampMicrosecond } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { entity } from '../definitions/entity.ts';
import { featureView } from '../definitions/feature-view.ts';
import { parquetSource } from '../definitions/source.ts';
import { toViewTable } from '../ingest/batch-validation.ts';
import { buildColumn } from '../arrow/build-column.ts';
import { tableToOnlineRows } from '../pipelines/row-conversion.ts';
import { localBackend, s3Backend } from '../test/offline/offline-fixtures.ts';

const rows = Number(process.argv[2] ?? 2_000_000);
const backend = process.argv[3] === 's3' ? s3Backend : localBackend;
const view = featureView({
  name: 'measure',
  entities: [entity({ name: 'user', joinKey: 'user_id', valueType: 'string' })],
  source: parquetSource({ name: 'measure_source', path: 'x' }),
  ttl: '1d',
  schema: Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, type: i % 2 ? ('float32' as const) : ('int64' as const) })),
});

const timings: Record<string, number> = {};
let peakRss = 0;
const sample = (): void => void (peakRss = Math.max(peakRss, process.memoryUsage().rss));
const sampler = setInterval(sample, 20);
async function timed<T>(name: string, run: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  const result = await run();
  timings[name] = Math.round(performance.now() - start);
  sample();
  return result;
}

const input = await timed('generate', () => {
  const columns: Record<string, ReturnType<typeof makeVector>> = {
    user_id: makeVector(buildColumn('string', Array.from({ length: rows }, (_, i) => `user_${i % 100_000}`))),
  };
  // The input's timestamps are µs, as files from other engines often are: the store converts them.
  const micros = new BigInt64Array(rows);
  const halves = new Int32Array(micros.buffer);
  for (let i = 0; i < rows; i++) {
    const us = (1_714_564_800_000 + i * 100) * 1000;
    const hi = Math.floor(us / 2 ** 32);
    halves[2 * i] = us - hi * 2 ** 32;
    halves[2 * i + 1] = hi;
  }
  columns.event_timestamp = makeVector(makeData({ type: new TimestampMicrosecond('UTC'), length: rows, data: micros }));
  for (let f = 0; f < 10; f++) {
    if (f % 2) {
      const data = new Float32Array(rows);
      for (let i = 0; i < rows; i++) data[i] = Math.random() * 1000;
      columns[`f${f}`] = makeVector(makeData({ type: new Float32(), length: rows, data }));
    } else {
      const data = new BigInt64Array(rows);
      const words = new Int32Array(data.buffer);
      for (let i = 0; i < rows; i++) words[2 * i] = (i * 7919) % 100_000;
      columns[`f${f}`] = makeVector(makeData({ type: new Int64(), length: rows, data }));
    }
  }
  return new Table(columns);
});

const fakeContext = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as import('node:test').TestContext;
const cleanups: (() => unknown)[] = [];
const store = await backend.open(fakeContext);
const table = await timed('toViewTable', () => toViewTable(view, input));
const info = await timed('writeTable', () => store.writeTable('measure/m.parquet', table));
const wasmAfterWrite = parquet.wasmMemory().buffer.byteLength;
let readRows = 0;
let rowGroups = 0;
await timed('readTable', async () => {
  for await (const batch of store.readTable('measure/m.parquet')) {
    readRows += batch.table.numRows;
    rowGroups = batch.rowGroupCount;
  }
});
await timed('readTable+tableToOnlineRows(10k chunks)', async () => {
  for await (const { table: part } of store.readTable('measure/m.parquet')) {
    for (let start = 0; start < part.numRows; start += 10_000) tableToOnlineRows(view, part, start, Math.min(part.numRows, start + 10_000));
  }
});
await timed('readTable(2 of 12 columns)', async () => {
  for await (const _ of store.readTable('measure/m.parquet', { columns: ['user_id', 'f1'] })) void _;
});
clearInterval(sampler);
for (const cleanup of cleanups.reverse()) await cleanup();

const mib = (n: number) => Math.round(n / 2 ** 20);
console.log(
  JSON.stringify(
    {
      backend: backend.name,
      rows,
      readRows,
      rowGroups,
      fileMiB: mib(info.bytes),
      ms: timings,
      peakRssMiB: mib(Math.max(peakRss, process.resourceUsage().maxRSS * 1024)),
      wasmMemoryMiB: { afterWrite: mib(wasmAfterWrite), end: mib(parquet.wasmMemory().buffer.byteLength) },
    },
    null,
    2,
  ),
);
