import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { newPool, openRegistry, uniqueProject } from './registry-fixtures.ts';

const pool = newPool();
const opened: PostgresRegistry[] = [];
after(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await pool.end();
});

async function twoRegistries(label: string): Promise<{ project: string; a: PostgresRegistry; b: PostgresRegistry }> {
  const project = uniqueProject(label);
  const [a, b] = await Promise.all([openRegistry(project), openRegistry(project)]);
  opened.push(a, b);
  return { project, a, b };
}

test('a watermark starts at 0 and never moves backwards', async () => {
  const { a } = await twoRegistries('wm');
  assert.equal(await a.watermark('v', 1, 1), 0);
  assert.equal(await a.advanceWatermark('v', 1, 1, 5), 5);
  assert.equal(await a.advanceWatermark('v', 1, 1, 3), 5);
  assert.equal(await a.advanceWatermark('v', 1, 1, 5), 5);
  assert.equal(await a.advanceWatermark('v', 1, 1, 9), 9);
  assert.equal(await a.watermark('v', 1, 1), 9);
  // Per (view, version, generation).
  assert.equal(await a.watermark('v', 1, 2), 0);
  assert.equal(await a.watermark('v', 2, 1), 0);
  assert.equal(await a.watermark('w', 1, 1), 0);
  await assert.rejects(a.advanceWatermark('v', 1, 1, -1), /whole number/);
});

test('concurrent advances in any order end at the greatest', async () => {
  const { a, b } = await twoRegistries('wmrace');
  const seqs = Array.from({ length: 40 }, (_, i) => (i * 37) % 101);
  const results = await Promise.all(seqs.map((s, i) => (i % 2 ? a : b).advanceWatermark('v', 1, 1, s)));
  // Each call returns a watermark at least its own seq.
  results.forEach((r, i) => assert.ok(r >= seqs[i]!, `advance to ${seqs[i]} returned ${r}`));
  assert.equal(await a.watermark('v', 1, 1), Math.max(...seqs));
});

test('activeGeneration creates generation 1 once, even when raced from two registries', async () => {
  const { project, a, b } = await twoRegistries('gen');
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).activeGeneration('v', 1)));
  for (const g of results) assert.deepEqual([g.view, g.version, g.generation, g.state], ['v', 1, 1, 'active']);
  assert.equal(new Set(results.map((g) => g.createdAt.getTime())).size, 1);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM granary_generations WHERE project = $1', [project]);
  assert.equal(Number(rows[0]!.n), 1);
  assert.equal((await a.activeGeneration('v', 2)).generation, 1);
});

test('with no active generation left, the next one becomes active', async () => {
  const { project, a } = await twoRegistries('gennext');
  await a.activeGeneration('v', 1);
  await pool.query(`UPDATE granary_generations SET state = 'retired' WHERE project = $1`, [project]);
  const next = await a.activeGeneration('v', 1);
  assert.deepEqual([next.generation, next.state], [2, 'active']);
});
