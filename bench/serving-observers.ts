/**
 * What the monitoring observers (serving/serving-observer.ts) cost the feature server, per read,
 * next to what the server pays for the same read anyway in the same run: encoding its answer
 * (feastResponse + JSON.stringify, the HTTP body). Three figures, each a median over --runs:
 *
 *   on the request's path   ServingCounts.served + .timed (the read's status counts, each distinct
 *                           statuses array once, and a bucket increment) and
 *                           ServingSampleLog.served (a random draw)
 *   counting, off the path  ServingCounts' flush (only the pending counts are left to it)
 *   sampling, off the path  ServingSampleLog's encoding of a sampled read (Parquet via the
 *                           offline store's encoder, written to a local folder); at the default
 *                           rate 1 read in 100 pays it
 *
 *   npm run bench -- serving-observers [--rows 100] [--features 50] [--reads 5000] [--runs 5]
 *
 * No Redis: the counters' add is the only I/O and happens once per flush, not per read.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { OnlineFeatureColumns } from '../serving/online-features.ts';
import { feastResponse } from '../serving/feast-format.ts';
import { ServingCounts } from '../serving/serving-counts.ts';
import { ServingSampleLog } from '../serving/serving-sample-log.ts';
import { LocalOfflineStore } from '../stores/offline/local-offline-store.ts';
import type { ServingCounters } from '../stores/online/redis-serving-counters.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100' },
    features: { type: 'string', default: '50' },
    reads: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '5' },
  },
});
const ROWS = Number(args.rows);
const FEATURES = Number(args.features);
const READS = Number(args.reads);
const RUNS = Number(args.runs);

// As the reader gives them (online-feature-reader.ts): the 10 columns of one view share their
// statuses and event times arrays (5 views of 10 features for 50).
const perView = Array.from({ length: Math.ceil(FEATURES / 10) }, () => ({
  statuses: Array.from({ length: ROWS }, (_, i) => (i % 10 ? 'PRESENT' : 'NOT_FOUND')),
  eventTimestamps: Array.from({ length: ROWS }, (_, i) => (i % 10 ? 1_700_000_000_000 : null)),
}));
const table: OnlineFeatureColumns = {
  joinKeys: ['user_id'],
  entityColumns: [Array.from({ length: ROWS }, (_, i) => `u${i}`)],
  featureNames: Array.from({ length: FEATURES }, (_, f) => `f${f}`),
  featureRefs: Array.from({ length: FEATURES }, (_, f) => `view_${Math.floor(f / 10)}:f${f}`),
  featureTypes: Array.from({ length: FEATURES }, () => 'float64'),
  columns: Array.from({ length: FEATURES }, (_, f) => ({
    values: Array.from({ length: ROWS }, (_, i) => (i % 10 ? i * 1.25 : null)),
    ...perView[Math.floor(f / 10)]!,
  })),
  rowCount: ROWS,
};
const counters: ServingCounters = { add: async () => undefined, read: async () => ({ statuses: [], latency: [] }), close: async () => undefined };
const dir = join(process.cwd(), '.granary', 'tmp', `bench-observers-${process.pid}`);
const offline = new LocalOfflineStore({ path: dir });
await offline.ensureReady();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ms: number, n: number): number => Number(((ms * 1000) / n).toFixed(2));

const encode: number[] = [];
const onPath: number[] = [];
const counting: number[] = [];
const sampling: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    let t = performance.now();
    for (let i = 0; i < READS; i++) JSON.stringify(feastResponse(table));
    encode.push(us(performance.now() - t, READS));

    const counts = new ServingCounts({ counters, project: 'bench', flushMs: 3_600_000 });
    // The default rate on the path; the cost of a sampled read's encoding is measured apart below.
    const log = new ServingSampleLog({ offline, project: 'bench', rate: 0.01, flushMs: 3_600_000 });
    t = performance.now();
    for (let i = 0; i < READS; i++) {
      const read = { featureService: 'bench_model', requestTime: Date.now(), table };
      counts.served(read);
      log.served(read);
      counts.timed('bench_model', 0.002);
    }
    onPath.push(us(performance.now() - t, READS));
    t = performance.now();
    await counts.flush();
    counting.push(us(performance.now() - t, READS));
    const sampled = Math.min(READS, 200);
    const few = new ServingSampleLog({ offline, project: 'bench', rate: 1, flushMs: 3_600_000 });
    for (let i = 0; i < sampled; i++) few.served({ featureService: 'bench_model', requestTime: Date.now(), table });
    t = performance.now();
    await few.flush();
    sampling.push(us(performance.now() - t, sampled));
    await Promise.all([counts.close(), few.close()]);
    await log.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const e = median(encode);
console.log(
  JSON.stringify(
    {
      bench: 'serving-observers',
      rows: ROWS,
      features: FEATURES,
      reads: READS,
      runs: RUNS,
      answerEncodeUsPerRead: e,
      onPathUsPerRead: median(onPath),
      countingUsPerRead: median(counting),
      samplingUsPerSampledRead: median(sampling),
      ratios: {
        onPathToAnswerEncode: Number((median(onPath) / e).toFixed(4)),
        countingToAnswerEncode: Number((median(counting) / e).toFixed(3)),
        samplingAt1PercentToAnswerEncode: Number((median(sampling) / 100 / e).toFixed(3)),
      },
    },
    null,
    2,
  ),
);
