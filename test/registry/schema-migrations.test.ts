import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { migrateSchema, SCHEMA_MIGRATIONS } from '../../stores/registry/schema-migrations.ts';
import { newPool, REGISTRY_URL } from './registry-fixtures.ts';

/** Each test migrates a fresh PostgreSQL schema (search_path), so it starts from nothing. */
const admin = newPool();
const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await admin.end();
});

async function freshSchemaUrl(): Promise<string> {
  const schema = `granary_test_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  const url = new URL(REGISTRY_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function tablesIn(url: string): Promise<string[]> {
  const schema = new URL(url).searchParams.get('options')!.split('=')[1]!;
  const { rows } = await admin.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
    [schema],
  );
  return rows.map((r) => r.table_name);
}

test('migrating twice applies each step once', async () => {
  const url = await freshSchemaUrl();
  const pool = newPool(url);
  try {
    assert.deepEqual(await migrateSchema(pool), SCHEMA_MIGRATIONS.map((m) => m.version));
    assert.deepEqual(await migrateSchema(pool), []);
    const { rows } = await pool.query<{ version: number }>('SELECT version FROM granary_schema_migrations ORDER BY version');
    assert.deepEqual(rows.map((r) => r.version), SCHEMA_MIGRATIONS.map((m) => m.version));
    assert.deepEqual(await tablesIn(url), [
      'granary_access_history',
      'granary_commit_objects',
      'granary_commits',
      'granary_consumer_tokens',
      'granary_consumers',
      'granary_generations',
      'granary_grants',
      'granary_monitor_baselines',
      'granary_monitor_results',
      'granary_object_history',
      'granary_objects',
      'granary_project_homes',
      'granary_restricted_reads',
      'granary_schema_migrations',
      'granary_view_migrations',
      'granary_view_snapshots',
      'granary_watermarks',
    ]);
  } finally {
    await pool.end();
  }
});

test('processes migrating at the same time: one applies, the others wait and find nothing to do', async () => {
  const url = await freshSchemaUrl();
  const pools = Array.from({ length: 5 }, () => newPool(url));
  try {
    const results = await Promise.all(pools.map((p) => migrateSchema(p)));
    assert.deepEqual(results.map((r) => r.length).sort(), [0, 0, 0, 0, SCHEMA_MIGRATIONS.length]);
    // And the registry works on top.
    const registry = new PostgresRegistry({ url, project: 'p' });
    await Promise.all([registry.migrate(), registry.migrate()]);
    assert.deepEqual(await registry.listObjects(), []);
    await registry.close();
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('a later step runs after the earlier ones, once; a failing step rolls back and names itself', async () => {
  const url = await freshSchemaUrl();
  const pool = newPool(url);
  try {
    await migrateSchema(pool);
    const extra = [...SCHEMA_MIGRATIONS, { version: 1000, name: 'add a column', sql: 'ALTER TABLE granary_watermarks ADD COLUMN note text' }];
    assert.deepEqual(await migrateSchema(pool, extra), [1000]);
    assert.deepEqual(await migrateSchema(pool, extra), []);
    const broken = [...extra, { version: 1001, name: 'broken', sql: 'CREATE TABLE t1001 (a int); SELECT no_such_function()' }];
    await assert.rejects(migrateSchema(pool, broken), /registry schema migration 1001 \(broken\) failed/);
    assert.ok(!(await tablesIn(url)).includes('t1001'));
  } finally {
    await pool.end();
  }
});
