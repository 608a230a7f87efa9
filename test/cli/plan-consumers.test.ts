import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { granary, makeRepo, uniqueProject } from './cli-fixtures.ts';

/**
 * `granary plan` on changes that apply but break a feature service's consumers (issue 12, item
 * 12): exit code 4 (2 stays "applies cleanly, every service serves what it did", 3 "breaking,
 * apply refuses"), the effect on each service shown; apply applies them and shows the same.
 */
const project = uniqueProject('consumers');
let repo: Awaited<ReturnType<typeof makeRepo>>;
const run = (...args: string[]) => granary([...args, '--repo', repo.dir], { project });
const AUDIT = `export const auditModel = featureService({ name: 'audit_model', features: ['user_spend:txn_count_7d'], defaults: { 'user_spend:txn_count_7d': 0n } });\n`;

before(async () => {
  repo = await makeRepo();
  await repo.write({ extra: AUDIT });
  const apply = await run('apply');
  assert.equal(apply.code, 0, apply.stderr);
});
after(async () => {
  await repo.remove();
});

test('removing a served feature service: plan exits 4 naming it; apply applies it', async () => {
  await repo.write();
  const plan = await run('plan');
  assert.equal(plan.code, 4, plan.stderr);
  assert.match(plan.stdout, /- remove feature service 'audit_model' {2}BREAKS CONSUMERS/);
  assert.match(plan.stdout, /! audit_model: removed \(served 2 columns\) {2}BREAKS CONSUMERS\n {4}requests naming it fail/);
  assert.match(plan.stdout, /granary apply will apply this plan, and the feature services marked ! change what they serve at once/);
  const json = JSON.parse((await run('plan', '--json')).stdout);
  assert.deepEqual([json.breaking, json.breaksConsumers], [false, true]);
  assert.deepEqual(json.services.map((s: { service: string; action: string }) => [s.service, s.action]), [['audit_model', 'removed']]);

  const apply = await run('apply');
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stdout, /! audit_model: removed/);
  assert.equal((await run('plan')).code, 0);
});

test("removing a service's default: BREAKS CONSUMERS, exit 4; adding one back is additive, exit 2", async () => {
  await repo.write({ extra: AUDIT });
  assert.equal((await run('apply')).code, 0);
  await repo.write({ extra: AUDIT.replace(", defaults: { 'user_spend:txn_count_7d': 0n }", '') });
  const plan = await run('plan');
  assert.equal(plan.code, 4, plan.stderr);
  assert.match(plan.stdout, /BREAKS CONSUMERS {2}defaults: \{"user_spend:txn_count_7d":"0"\} -> \(none\)\n {14}default of 'user_spend:txn_count_7d' removed: NOT_FOUND and OUTSIDE_MAX_AGE values served as null instead of 0/);
  assert.equal((await run('apply')).code, 0);

  await repo.write({ extra: AUDIT });
  const back = await run('plan');
  assert.equal(back.code, 2, back.stdout);
  assert.match(back.stdout, /ADDITIVE {2}defaults: \(none\) -> \{"user_spend:txn_count_7d":"0"\}/);
  assert.match(back.stdout, /~ audit_model: 2 columns -> 2\n {4}default of 'user_spend:txn_count_7d' added/);
});
