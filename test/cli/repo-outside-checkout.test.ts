import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { granary, uniqueProject } from './cli-fixtures.ts';

/**
 * A feature repo kept outside this checkout, as users keep theirs: a folder under the system's
 * temporary directory whose files `import ... from 'granary'`, with no package.json (or one that
 * does not say "type": "module") and no granary installed next to it. `granary apply --repo` must
 * load it, the 'granary' import resolving to the installation running the command.
 */
const folders: string[] = [];
after(async () => {
  await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function writeRepo(packageJson?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'granary-outside-'));
  folders.push(dir);
  await mkdir(join(dir, 'shared'));
  // A helper file imported by a relative path, extensionless as TypeScript users write it.
  await writeFile(
    join(dir, 'shared', 'entities.ts'),
    `import { entity } from 'granary';\nexport const user = entity({ name: 'user', joinKey: 'user_id', valueType: 'string' });\n`,
  );
  await writeFile(
    join(dir, 'features.ts'),
    `import { featureService, featureView, parquetSource } from 'granary';
import { user } from './shared/entities';

export const spend = featureView({
  name: 'user_spend',
  entities: [user],
  source: parquetSource({ name: 'transactions', path: 'data/transactions' }),
  schema: [{ name: 'spend_7d_avg', type: 'float32' }],
  ttl: '1d',
});

export const model = featureService({ name: 'fraud_model', features: [spend] });
`,
  );
  if (packageJson !== undefined) await writeFile(join(dir, 'package.json'), packageJson);
  return dir;
}

for (const [label, packageJson] of [
  ['no package.json', undefined],
  ['a package.json without "type"', '{ "name": "my-feature-repo", "private": true }\n'],
] as const) {
  test(`a repo under os.tmpdir() with ${label} plans and applies`, async () => {
    const dir = await writeRepo(packageJson);
    const project = uniqueProject('outside');
    const plan = await granary(['plan', '--repo', dir], { project, cwd: dir });
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /\+ add feature view 'user_spend' version 1/);
    assert.match(plan.stdout, /\+ add entity 'user'/);

    const apply = await granary(['apply', '--repo', dir], { project, cwd: dir });
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stdout, /Applied 4 changes/);
    const list = await granary(['list', 'view', '--json', '--repo', dir], { project, cwd: dir });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      JSON.parse(list.stdout).map((o: { name: string }) => o.name),
      ['user_spend'],
    );
  });
}
