import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_FEATURES, granary, makeRepo, uniqueProject } from './cli-fixtures.ts';

/** The commands run in order against one project and one repo, edited between steps. */
const project = uniqueProject('flow');
let repo: Awaited<ReturnType<typeof makeRepo>>;
const run = (...args: string[]) => granary([...args, '--repo', repo.dir], { project });

before(async () => {
  repo = await makeRepo();
});
after(async () => {
  await repo.remove();
});

test('--help works for the program and every command', async () => {
  const help = await granary(['--help'], { project });
  assert.equal(help.code, 0);
  for (const command of ['plan', 'apply', 'list', 'describe']) {
    assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    const own = await granary([command, '--help'], { project });
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, new RegExp(`Usage: granary ${command}`));
    assert.match(own.stdout, /--repo <dir>/);
  }
});

test('plan on a new project: every object to add, exit code 2', async () => {
  const plan = await run('plan');
  assert.equal(plan.code, 2, plan.stderr);
  assert.match(plan.stdout, new RegExp(`project '${project}': 4 to add, 0 to update, 0 to remove`));
  assert.match(plan.stdout, /\+ add feature view 'user_spend' version 1/);
  assert.match(plan.stdout, /\+ add entity 'user'/);
  assert.equal(plan.stderr, '');
});

test('apply, then re-apply says no changes; plan is then clean (exit 0)', async () => {
  const apply = await run('apply');
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stdout, /Applied 4 changes/);
  const again = await run('apply');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /no changes/);
  const plan = await run('plan');
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /no changes/);
});

test('the global options may come before the command', async () => {
  const plan = await granary(['--repo', repo.dir, '--json', 'plan'], { project });
  assert.equal(plan.code, 0, plan.stderr);
  assert.deepEqual(JSON.parse(plan.stdout), { project, changes: [], breaking: false, services: [], breaksConsumers: false });
});

test('an additive change: plan shows the field, ADDITIVE, exit 2; a new feature in a view a service lists whole breaks its consumers, exit 4; apply applies both and bumps the schema version', async () => {
  await repo.write({ ttl: '2d' });
  const ttlOnly = await run('plan');
  assert.equal(ttlOnly.code, 2, ttlOnly.stderr);
  assert.match(ttlOnly.stdout, /ADDITIVE {2}ttlSeconds: 86400 -> 172800/);
  assert.doesNotMatch(ttlOnly.stdout, /Feature services/);

  await repo.write({ features: [...DEFAULT_FEATURES, { name: 'spend_30d_avg', type: 'float64' }], ttl: '2d' });
  const plan = await run('plan');
  assert.equal(plan.code, 4, plan.stderr);
  assert.match(plan.stdout, /~ update feature view 'user_spend' version 1 {2}BREAKS CONSUMERS/);
  assert.match(plan.stdout, /BREAKS CONSUMERS {2}features\.spend_30d_avg: \(none\) -> float64\n {14}adds a column to feature service 'fraud_model', which lists the whole view/);
  assert.match(plan.stdout, /ADDITIVE {2}ttlSeconds: 86400 -> 172800/);
  assert.match(plan.stdout, /! fraud_model: 3 columns -> 4 {2}BREAKS CONSUMERS\n {4}\+ column 'user_spend:spend_30d_avg' \(float64\), 4th of 4/);
  const json = JSON.parse((await run('plan', '--json')).stdout);
  assert.equal(json.breaking, false);
  assert.deepEqual(json.changes[0].fields.map((f: { path: string }) => f.path).sort(), ['features.spend_30d_avg', 'ttlSeconds']);

  const apply = await run('apply');
  assert.equal(apply.code, 0, apply.stderr);
  const list = await run('list', 'view', '--json');
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).map((o: { name: string; schemaVersion: number; status: string }) => [o.name, o.schemaVersion, o.status]),
    [['user_spend', 2, 'active']],
  );
});

test('a breaking change: plan exits 3 with BREAKING and what to do; apply refuses (exit 3) and writes nothing', async () => {
  await repo.write({ features: [{ name: 'spend_7d_avg', type: 'float64' }, DEFAULT_FEATURES[1]!, { name: 'spend_30d_avg', type: 'float64' }], ttl: '2d' });
  const plan = await run('plan');
  assert.equal(plan.code, 3, plan.stderr);
  assert.match(plan.stdout, /BREAKING {2}features\.spend_7d_avg\.type: float32 -> float64/);
  assert.match(plan.stdout, /create feature view 'user_spend' version 2 beside version 1/);

  const apply = await run('apply');
  assert.equal(apply.code, 3);
  const lines = apply.stderr.trim().split('\n');
  assert.equal(lines.length, 1, apply.stderr);
  assert.match(lines[0]!, /^error: breaking change refused: feature view 'user_spend' version 1, field 'features\.spend_7d_avg\.type': .*create feature view 'user_spend' version 2 beside version 1/);
  assert.match(apply.stdout, /Nothing was applied/);

  const describe = await run('describe', 'user_spend', '--json');
  assert.equal(describe.code, 0, describe.stderr);
  const description = JSON.parse(describe.stdout);
  assert.equal(description.object.schemaVersion, 2);
  assert.equal(description.object.spec.features[0].type, 'float32');
});

test('list prints a table of every object', async () => {
  const list = await run('list');
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.match(lines[0]!, /^KIND\s+NAME\s+VERSION\s+SCHEMA\s+OWNER\s+STATUS$/);
  assert.equal(lines.length, 5);
  assert.match(list.stdout, /feature view\s+user_spend\s+1\s+2\s+fraud@example\.com\s+active/);
  const bad = await run('list', 'gizmos');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: .*'gizmos'.*expected entity, source, view/);
});

test('describe shows the schema, TTL, entities, source and history', async () => {
  const describe = await run('describe', 'user_spend');
  assert.equal(describe.code, 0, describe.stderr);
  assert.match(describe.stdout, /^feature view 'user_spend' version 1/);
  assert.match(describe.stdout, /owner: +fraud@example\.com/);
  assert.match(describe.stdout, /tags: +team=fraud/);
  assert.match(describe.stdout, /entities: +user \(user_id: string\)/);
  assert.match(describe.stdout, /source: +transactions \(data\/transactions\)/);
  assert.match(describe.stdout, /ttl: +2d/);
  assert.match(describe.stdout, /spend_30d_avg +float64 +nullable/);
  assert.match(describe.stdout, /history:[\s\S]*add +1 +1[\s\S]*update +1 +2/);

  const entity = await run('describe', 'user', '--kind', 'entity', '--json');
  assert.equal(entity.code, 0, entity.stderr);
  assert.equal(JSON.parse(entity.stdout).object.spec.joinKey, 'user_id');

  const missing = await run('describe', 'nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: no 'nope' in the registry of project/);
});

test('a bad definition: exit 1, one line naming the file, the object and the field', async () => {
  await repo.write({ ttl: 'soon' });
  for (const command of ['plan', 'apply']) {
    const result = await run(command);
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^error: .*features\.ts, feature view 'user_spend', field 'ttl': /);
  }
  const debug = await granary(['plan', '--repo', repo.dir], { project, env: { GRANARY_DEBUG: '1' } });
  assert.equal(debug.code, 1);
  assert.ok(debug.stderr.trim().split('\n').length > 1, 'GRANARY_DEBUG=1 prints the stack');
});

test('an unreachable registry: exit 1, one line saying where and what to do', async () => {
  await repo.write();
  const result = await granary(['list', '--repo', repo.dir], { project, env: { GRANARY_POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/granary' } });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^error: cannot reach the registry at postgres:\/\/postgres@127\.0\.0\.1:1\/granary: .*npm run stack -- up\)\n$/);
});
