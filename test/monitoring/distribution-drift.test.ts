import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBSession, literal } from '../../retrieval/duckdb-session.ts';
import { after, before, test } from 'node:test';
import { buildFeatureRepo, entity, featureView, parquetSource } from '../../definitions/index.ts';
import { seededRandom } from '../../definitions/examples/seeded-random.ts';
import { featureViewFromSpec } from '../../definitions/view-from-spec.ts';
import type { FeatureView } from '../../definitions/feature-view.ts';
import { driftResults } from '../../monitoring/distribution-results.ts';
import { viewObjectives } from '../../monitoring/objectives.ts';
import { computeBaselines, computeBaselinesFromFile, measureDistribution, type FeatureDrift } from '../../monitoring/view-distribution.ts';
import { PostgresMonitorResults } from '../../stores/registry/postgres-monitor-results.ts';
import { historicalFixture } from '../retrieval/historical-fixtures.ts';

/**
 * Distribution monitoring on real committed data (Parquet objects in MinIO, commits in the
 * registry, DuckDB over the staged objects): the same data twice gives PSI < 0.01 and KS 0; a
 * mean shifted by one standard deviation alerts on PSI and KS; a window with many nulls alerts
 * on completeness (nulls reported apart, not binned); categories unseen in the baseline are
 * pooled. PSI and KS agree to 1e-9 with an independent computation written here (sorting in
 * JavaScript, linear-interpolated deciles, a merge walk over both samples).
 */
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });
const viewNamed = (name: string) =>
  featureView({
    name,
    entities: [user],
    source: parquetSource({ name: `${name}_src`, path: `data/${name}` }),
    schema: [
      { name: 'x', type: 'float64' },
      { name: 'n', type: 'int64' },
      { name: 'c', type: 'string' },
    ],
    ttl: '1d',
  });
const repo = buildFeatureRepo('.', ['same_v', 'shift_v', 'nulls_v'].map((name) => ({ definition: viewNamed(name) })));
const fixture = await historicalFixture('monitor_drift', repo, { s3: true });
const results = new PostgresMonitorResults({ url: fixture.config.registry.url, project: fixture.config.project });
after(() => results.close());

const random = seededRandom(17);
function normal(): number {
  // Box-Muller
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
const ROWS = 4000;
const baseX = Array.from({ length: ROWS }, () => (random() < 0.02 ? null : normal()));
const baseN = Array.from({ length: ROWS }, () => Math.floor(random() * 20));
const baseC = Array.from({ length: ROWS }, () => ['a', 'b', 'c'][Math.floor(random() * 3)]!);
const shiftedX = Array.from({ length: ROWS }, () => normal() + 1);

function rows(day: number, x: readonly (number | null)[], n: readonly number[], c: readonly (string | null)[]) {
  return x.map((value, i) => ({ user_id: `u${i}`, event_timestamp: new Date(T0 + day * DAY + i * 1000), x: value, n: BigInt(n[i]!), c: c[i] }));
}

const views = new Map<string, FeatureView>();
before(async () => {
  for (const name of ['same_v', 'shift_v', 'nulls_v']) {
    await fixture.commitRows(name, rows(0, baseX, baseN, baseC), { batchId: 'baseline', objects: 3 });
    views.set(name, featureViewFromSpec((await fixture.registry.getObject('featureView', name))!.spec));
  }
  // The window (the last day of event time): the same rows, shifted ones, or many nulls and an unseen category.
  await fixture.commitRows('same_v', rows(2, baseX, baseN, baseC), { batchId: 'current', objects: 2 });
  await fixture.commitRows('shift_v', rows(2, shiftedX, baseN, baseC), { batchId: 'current' });
  const nullsX = baseX.map((v, i) => (i % 3 === 0 ? null : v));
  const nullsC = baseC.map((v, i) => (i % 10 === 0 ? 'unseen' : v));
  await fixture.commitRows('nulls_v', rows(2, nullsX, baseN, nullsC), { batchId: 'current' });
  for (const name of ['same_v', 'shift_v', 'nulls_v']) {
    const baselines = await computeBaselines({ registry: fixture.registry, offline: fixture.offline }, views.get(name)!, { start: T0, end: T0 + DAY });
    await results.saveBaselines(baselines);
  }
});

async function measure(name: string): Promise<FeatureDrift[]> {
  const view = views.get(name)!;
  return measureDistribution({ registry: fixture.registry, offline: fixture.offline }, view, await results.baselines(view.name, view.version), { windowSeconds: 86_400 });
}

test('the same data twice: PSI below 0.01 and KS 0, every state ok', async () => {
  const drift = await measure('same_v');
  const x = drift.find((d) => d.feature === 'x')!;
  assert.ok(x.psi < 0.01, `psi ${x.psi}`);
  assert.equal(x.ks, 0);
  assert.equal(x.rows, ROWS);
  assert.equal(x.nulls, baseX.filter((v) => v === null).length);
  assert.equal(x.binned, ROWS - x.nulls);
  const c = drift.find((d) => d.feature === 'c')!;
  assert.equal(c.kind, 'categorical');
  assert.ok(c.psi < 0.01);
  const states = driftResults(views.get('same_v')!, viewObjectives(views.get('same_v')!), drift, Date.now());
  assert.deepEqual([...new Set(states.map((r) => r.state))], ['ok']);
});

test('a mean shifted by one standard deviation alerts on PSI and KS', async () => {
  const drift = await measure('shift_v');
  const out = driftResults(views.get('shift_v')!, viewObjectives(views.get('shift_v')!), drift, Date.now());
  const psi = out.find((r) => r.metric === 'psi' && r.feature === 'x')!;
  const ks = out.find((r) => r.metric === 'ks' && r.feature === 'x')!;
  assert.equal(psi.state, 'alert', `psi ${psi.value}`);
  assert.equal(ks.state, 'alert', `ks ${ks.value}`);
  assert.ok(psi.value > 0.2 && ks.value > 0.1);
  // The features that did not move stay ok.
  assert.equal(out.find((r) => r.metric === 'psi' && r.feature === 'n')!.state, 'ok');
});

test('a window with many nulls alerts on completeness; nulls are not binned; unseen categories are pooled', async () => {
  const drift = await measure('nulls_v');
  const out = driftResults(views.get('nulls_v')!, viewObjectives(views.get('nulls_v')!), drift, Date.now());
  const completeness = out.find((r) => r.metric === 'window_completeness' && r.feature === 'x')!;
  assert.equal(completeness.state, 'alert');
  const nulls = baseX.filter((v, i) => v === null || i % 3 === 0).length;
  assert.equal(completeness.value, (ROWS - nulls) / ROWS);
  const x = drift.find((d) => d.feature === 'x')!;
  assert.equal(x.binned, ROWS - nulls);
  const c = drift.find((d) => d.feature === 'c')!;
  assert.equal(c.currentShares.length, 4, 'a, b, c and the pooled bin of unseen categories');
  assert.equal(c.currentShares[3], 0.1);
  assert.equal(c.baselineShares[3], 0);
});

test('PSI and KS agree with an independent computation to 1e-9', async () => {
  const cases: [string, readonly (number | null)[], readonly (number | null)[]][] = [
    ['same_v', baseX, baseX],
    ['shift_v', baseX, shiftedX],
    ['nulls_v', baseX, baseX.map((v, i) => (i % 3 === 0 ? null : v))],
  ];
  for (const [name, base, current] of cases) {
    const x = (await measure(name)).find((d) => d.feature === 'x')!;
    const b = base.filter((v): v is number => v !== null);
    const c = current.filter((v): v is number => v !== null);
    assert.ok(Math.abs(x.psi - referencePsi(b, c)) < 1e-9, `${name}: psi ${x.psi} vs ${referencePsi(b, c)}`);
    assert.ok(Math.abs(x.ks! - referenceKs(b, c)) < 1e-9, `${name}: ks ${x.ks} vs ${referenceKs(b, c)}`);
  }
  // An integer feature with many ties: edges fall on values, bins by "edges strictly below".
  const n = (await measure('shift_v')).find((d) => d.feature === 'n')!;
  assert.ok(Math.abs(n.psi - referencePsi(baseN, baseN)) < 1e-9);
  assert.ok(Math.abs(n.ks! - referenceKs(baseN, baseN)) < 1e-9);
});

/** PSI written apart from the monitor's code: sort, deciles by linear interpolation (type 7), count by scanning. */
function referencePsi(baseline: readonly number[], current: readonly number[]): number {
  const sorted = [...baseline].sort((p, q) => p - q);
  const edges: number[] = [];
  for (let k = 1; k <= 9; k++) {
    const h = (sorted.length - 1) * (k / 10);
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, sorted.length - 1);
    edges.push(sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!));
  }
  const share = (values: readonly number[]): number[] => {
    const counts = new Array<number>(10).fill(0);
    for (const v of values) {
      let bin = 0;
      while (bin < 9 && v > edges[bin]!) bin++;
      counts[bin]!++;
    }
    return counts.map((k) => Math.max(k / values.length, 1e-4));
  };
  const b = share(baseline);
  const c = share(current);
  let total = 0;
  for (let i = 0; i < 10; i++) total += (c[i]! - b[i]!) * Math.log(c[i]! / b[i]!);
  return total;
}

/** KS written apart: a merge walk over both sorted samples, comparing the CDFs after each distinct value. */
function referenceKs(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length || j < y.length) {
    const v = Math.min(x[i] ?? Infinity, y[j] ?? Infinity);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

test('a baseline from a training-set Parquet file: the same bins as from the same committed rows; KS reads the file again; a file without the features is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'granary-baseline-file-'));
  try {
    // A training set of the baseline day's rows, as historical retrieval writes one with fullFeatureNames for x.
    const csv = join(dir, 'train.csv');
    const lines = rows(0, baseX, baseN, baseC).map((r) => [r.user_id, r.event_timestamp.toISOString(), r.x ?? '', r.n, r.c].join(','));
    await writeFile(csv, ['user_id,event_timestamp,same_v__x,n,c', ...lines].join('\n'));
    const file = join(dir, 'train.parquet');
    const duck = await DuckDBSession.open({ tempDir: dir });
    try {
      await duck.run(`COPY (SELECT user_id, CAST(event_timestamp AS TIMESTAMPTZ) AS event_timestamp, CAST(same_v__x AS DOUBLE) AS same_v__x, CAST(n AS BIGINT) AS n, c
        FROM read_csv(${literal(csv)}, header = true, all_varchar = true)) TO ${literal(file)} (FORMAT parquet)`);
      await duck.run(`COPY (SELECT user_id, 1.5 AS other FROM read_csv(${literal(csv)}, header = true, all_varchar = true)) TO ${literal(join(dir, 'bad.parquet'))} (FORMAT parquet)`);
    } finally {
      duck.close();
    }
    const view = views.get('same_v')!;
    const deps = { registry: fixture.registry, offline: fixture.offline };
    const fromFile = await computeBaselinesFromFile(deps, fixture.config.project, view, file);
    const fromRows = await computeBaselines(deps, view, { start: T0, end: T0 + DAY });
    assert.deepEqual(fromFile.map((b) => [b.feature, b.rowCount, b.nullCount, b.bins]), fromRows.map((b) => [b.feature, b.rowCount, b.nullCount, b.bins]));
    assert.equal(fromFile[0]!.start.getTime(), T0);
    assert.match(fromFile[0]!.file!, new RegExp(`^${fixture.config.project}/_monitoring/baselines/same_v/v1/[0-9a-f]{64}\\.parquet$`));
    assert.ok(await fixture.offline.exists(fromFile[0]!.file!));

    await results.saveBaselines(fromFile);
    const stored = await results.baselines('same_v', 1);
    assert.ok(stored.every((b) => b.file === fromFile[0]!.file), 'the file key reads back');
    const drift = await measure('same_v');
    for (const d of drift) assert.ok(d.psi < 0.01, `${d.feature}: ${d.psi}`);
    assert.deepEqual(drift.filter((d) => d.kind === 'numeric').map((d) => [d.feature, d.ks]), [['x', 0], ['n', 0]], 'KS against the file copy: same rows');

    const before = await results.baselines('same_v', 1);
    await assert.rejects(computeBaselinesFromFile(deps, fixture.config.project, view, join(dir, 'bad.parquet')), /bad\.parquet has no column of its monitored features \(looked for 'x' or 'same_v__x', 'n' or 'same_v__n', 'c' or 'same_v__c'\)/);
    await assert.rejects(computeBaselinesFromFile(deps, fixture.config.project, view, join(dir, 'missing.parquet')), /cannot read --from-file/);
    assert.deepEqual(await results.baselines('same_v', 1), before, 'nothing written');
  } finally {
    await rm(dir, { recursive: true, force: true });
    // The committed-rows baseline back, as the other tests expect.
    await results.saveBaselines(await computeBaselines({ registry: fixture.registry, offline: fixture.offline }, views.get('same_v')!, { start: T0, end: T0 + DAY }));
  }
});
