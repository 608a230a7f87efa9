/**
 * Distribution monitoring cost (issue 17, item 6): the monitor's distribution measure of one view
 * (the window's PSI bins and KS against a stored baseline, per feature: staging the committed
 * objects, loading the window and the baseline's rows, bins, KS) next to bare DuckDB computing the
 * same bins and KS from the same files in the same run. Prints JSON with medians and the ratio.
 *
 *   npm run bench -- monitor [--rows 2000000] [--features 4] [--commits 8] [--runs 3]
 *
 * Rows are spread over two days of event time: the first is the baseline, the second the window
 * (half the rows each; the issue's figure is 10M rows in the window: --rows 20000000). The
 * offline store is a local folder, so both read the same local Parquet files.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { makeData, RecordBatch, Struct, Table } from 'apache-arrow';
import { loadConfig } from '../config/granary-config.ts';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../definitions/index.ts';
import { seededRandom } from '../definitions/examples/seeded-random.ts';
import { featureViewFromSpec } from '../definitions/view-from-spec.ts';
import { buildColumn } from '../arrow/build-column.ts';
import { viewSchema } from '../arrow/view-schema.ts';
import { computeBaselines, measureDistribution } from '../monitoring/view-distribution.ts';
import { psi, sharesOf } from '../monitoring/drift-statistics.ts';
import { LocalOfflineStore } from '../stores/offline/local-offline-store.ts';
import { objectKey } from '../stores/offline/object-key.ts';
import { PostgresRegistry } from '../stores/registry/postgres-registry.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    features: { type: 'string', default: '4' },
    commits: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
  },
});
const ROWS = Number(args.rows);
const FEATURES = Array.from({ length: Number(args.features) }, (_, i) => `f${i}`);
const COMMITS = Number(args.commits);
const RUNS = Number(args.runs);
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'int64' });
const definition = featureView({
  name: 'drift_bench',
  entities: [user],
  source: parquetSource({ name: 'drift_src', path: 'data/drift' }),
  schema: FEATURES.map((name) => ({ name, type: 'float64' as const })),
  ttl: '2d',
});
const dir = join(process.cwd(), '.granary', 'tmp', `bench-monitor-${randomBytes(4).toString('hex')}`);
const project = `bench_monitor_${randomBytes(4).toString('hex')}`;
const config = loadConfig({ repoDir: process.cwd(), env: { ...process.env, GRANARY_PROJECT: project, GRANARY_OFFLINE_URL: join(dir, 'offline') } });
const offline = new LocalOfflineStore({ path: join(dir, 'offline') });
const registry = new PostgresRegistry({ url: config.registry.url, project });
const random = seededRandom(11);

async function setUp(): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await offline.ensureReady();
  await registry.migrate();
  await registry.apply(buildFeatureRepo('.', [{ definition }]));
  const schema = viewSchema(definition);
  const paths: string[] = [];
  const per = Math.ceil(ROWS / COMMITS);
  for (let c = 0; c < COMMITS; c++) {
    const events = Array.from({ length: per }, (_, i) => T0 + Math.floor(((c * per + i) / ROWS) * 2 * DAY));
    // The second day is shifted a little: a realistic PSI, not zero.
    const features = FEATURES.map((_, f) => events.map((t) => (random() < 0.02 ? null : (random() + random() + random()) * (f + 1) + (t >= T0 + DAY ? 0.1 : 0))));
    const children = [buildColumn('int64', events.map((_, i) => BigInt(i))), buildColumn('timestamp', events), ...features.map((v) => buildColumn('float64', v))];
    const table = new Table([new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: per, nullCount: 0, children }))]);
    const key = objectKey({ project, view: definition.name, version: 1, eventDate: '2024-01-01', batchId: `b${c}` });
    const info = await offline.writeTable(key, table);
    await registry.commit({
      view: definition.name,
      version: 1,
      batchId: `b${c}`,
      schemaVersion: 1,
      objects: [{ key, rowCount: info.rowCount, bytes: info.bytes, checksum: info.checksum, minEventTime: new Date(events[0]!), maxEventTime: new Date(events.at(-1)!) }],
    });
    paths.push(offline.localPath(key));
  }
  return paths;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const paths = await setUp();
  const view = featureViewFromSpec((await registry.getObject('featureView', definition.name))!.spec);
  const deps = { registry, offline, tempDir: dir };
  const baselines = await computeBaselines(deps, view, { start: T0, end: T0 + DAY });
  const newest = (await registry.newestEventTime(view.name, 1, await registry.latestCommitSeq(view.name, 1)))!.getTime();
  const windowStart = newest + 1 - DAY;
  const duck = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await duck.connect();
  const files = `[${paths.map((p) => `'${p}'`).join(', ')}]`;
  const granaryMs: number[] = [];
  const duckMs: number[] = [];
  let granaryPsi: number[] = [];
  let duckPsi: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let started = performance.now();
    const drift = await measureDistribution(deps, view, baselines, { windowSeconds: 86_400 });
    granaryMs.push(performance.now() - started);
    granaryPsi = FEATURES.map((f) => drift.find((d) => d.feature === f)!.psi);

    // The reference: the same deciles, bin counts and KS, by hand in one DuckDB session.
    started = performance.now();
    await connection.run(`CREATE OR REPLACE TABLE b AS SELECT ${FEATURES.join(', ')} FROM read_parquet(${files}) WHERE epoch_ms(event_timestamp) >= ${T0} AND epoch_ms(event_timestamp) < ${T0 + DAY}`);
    await connection.run(`CREATE OR REPLACE TABLE c AS SELECT ${FEATURES.join(', ')} FROM read_parquet(${files}) WHERE epoch_ms(event_timestamp) >= ${windowStart} AND epoch_ms(event_timestamp) <= ${newest}`);
    duckPsi = [];
    for (const f of FEATURES) {
      const edges = ((await connection.runAndReadAll(`SELECT quantile_cont(${f}, [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]) AS q FROM b WHERE ${f} IS NOT NULL`)).getRowObjects()[0]!.q as { items: number[] }).items.map(Number);
      const bin = edges.map((e) => `(${f} > ${e.toPrecision(17)})::INTEGER`).join(' + ');
      const count = async (t: string): Promise<number[]> => {
        const out = new Array<number>(10).fill(0);
        for (const r of (await connection.runAndReadAll(`SELECT ${bin} AS bin, count(*) AS n FROM ${t} WHERE ${f} IS NOT NULL GROUP BY bin`)).getRowObjects()) out[Number(r.bin)] = Number(r.n);
        return out;
      };
      duckPsi.push(psi(sharesOf(await count('b')), sharesOf(await count('c'))));
      await connection.runAndReadAll(`WITH u AS (SELECT ${f} AS v, 1 AS a, 0 AS z FROM b WHERE ${f} IS NOT NULL UNION ALL SELECT ${f}, 0, 1 FROM c WHERE ${f} IS NOT NULL),
        g AS (SELECT v, sum(a) na, sum(z) nz FROM u GROUP BY v),
        w AS (SELECT sum(na) OVER (ORDER BY v) ca, sum(nz) OVER (ORDER BY v) cz FROM g)
        SELECT max(abs(ca / (SELECT sum(na) FROM g) - cz / (SELECT sum(nz) FROM g))) FROM w`);
    }
    duckMs.push(performance.now() - started);
  }
  connection.closeSync();
  duck.closeSync();
  const g = median(granaryMs);
  const d = median(duckMs);
  console.log(
    JSON.stringify(
      {
        bench: 'monitor',
        rows: ROWS,
        windowRows: Math.round(ROWS / 2),
        features: FEATURES.length,
        commits: COMMITS,
        runs: RUNS,
        granaryMs: granaryMs.map(Math.round),
        duckdbMs: duckMs.map(Math.round),
        medianGranaryMs: Math.round(g),
        medianDuckdbMs: Math.round(d),
        ratio: Number((g / d).toFixed(2)),
        psiAgree: granaryPsi.every((p, i) => Math.abs(p - duckPsi[i]!) < 1e-9),
        psi: granaryPsi.map((p) => Number(p.toFixed(5))),
      },
      null,
      2,
    ),
  );
} finally {
  await registry.close();
  await rm(dir, { recursive: true, force: true });
}
