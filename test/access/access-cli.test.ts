import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { granary, makeRepo, uniqueProject } from '../cli/cli-fixtures.ts';

/**
 * `granary access` end to end, as a person types it: a consumer's token printed once (and never
 * by list, history or errors), a grant covering a pii feature refused without --approved-by,
 * the approval shown by `access list` and `granary describe`, grants and revokes in the history,
 * `historical` refusing what is not granted.
 */
const repo = await makeRepo();
after(() => repo.remove());
await repo.write({ features: [{ name: 'spend_7d_avg', type: 'float32' }, { name: 'card_number', type: 'string', pii: true } as { name: string; type: string }] });
const project = uniqueProject('access');
const env = { GRANARY_SERVING_AUTH: 'token' };
const run = (...args: string[]) => granary([...args, '--repo', repo.dir], { project, env });
const consumer = `${project}_model`;

test('consumer create prints a token once; grants of restricted features need --approved-by; list, describe and history show them', async () => {
  assert.equal((await run('apply')).code, 0);
  const created = await run('access', 'consumer', 'create', consumer, '--description', 'a test model', '--json');
  assert.equal(created.code, 0, created.stderr);
  const { token } = JSON.parse(created.stdout) as { token: string };
  assert.match(token, /^gry_[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);
  const again = await run('access', 'consumer', 'create', consumer);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: consumer '.*' exists already/);

  const refused = await run('access', 'grant', consumer, `${project}:fraud_model`);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`covers restricted features \\('user_spend:card_number'\\): a grant needs --approved-by`));
  const feature = await run('access', 'grant', consumer, `${project}:user_spend:spend_7d_avg`);
  assert.equal(feature.code, 0, feature.stderr);
  assert.match(feature.stdout, /granted .*:user_spend:spend_7d_avg \(feature, 1 feature\) to/);
  const unknown = await run('access', 'grant', consumer, `${project}:nope`);
  assert.match(unknown.stderr, /has no feature service or feature view 'nope'/);
  const approved = await run('access', 'grant', consumer, `${project}:fraud_model`, '--approved-by', 'dpo@example.com');
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /\(feature service, 2 features, approved by dpo@example.com\)/);

  const list = await run('access', 'list', '--consumer', consumer);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${consumer}\\s+${project}:fraud_model\\s+service\\s+dpo@example.com\\s+\\S+\\s+user_spend:card_number`));
  const describe = await run('describe', 'fraud_model');
  assert.match(describe.stdout, /access \(granted to\):/);
  assert.match(describe.stdout, new RegExp(`${consumer}\\s+${project}:fraud_model\\s+dpo@example.com`));
  const view = await run('describe', 'user_spend');
  assert.match(view.stdout, /card_number\s+string\s+nullable, pii/);

  // historical refuses, before any work, a feature the consumer may not read (the view has none other, so: a made-up one).
  const historical = await granary(['historical', '--features', 'user_spend:card_number,user_spend:other', '--end', '2025-01-01', '--out', '/tmp/never.parquet', '--repo', repo.dir], {
    project,
    env: { ...env, GRANARY_TOKEN: token },
  });
  assert.equal(historical.code, 1);
  assert.match(historical.stderr, /may not read 'user_spend:other' \(not granted\)/);

  assert.equal((await run('access', 'revoke', consumer, `${project}:user_spend:spend_7d_avg`)).code, 0);
  const history = await run('access', 'history', '--consumer', consumer, '--json');
  const actions = (JSON.parse(history.stdout) as { action: string; target: string; approvedBy: string | null }[]).map((e) => `${e.action} ${e.target} ${e.approvedBy ?? ''}`.trim());
  assert.deepEqual(actions, [
    'create-consumer',
    `grant ${project}:user_spend:spend_7d_avg`,
    `grant ${project}:fraud_model dpo@example.com`,
    `revoke-grant ${project}:user_spend:spend_7d_avg`,
  ]);

  const rotated = await run('access', 'consumer', 'rotate', consumer, '--grace', '0s');
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /previous token\(s\) stop working in 0 s/);
  assert.equal((await run('access', 'consumer', 'revoke', consumer)).code, 0);
  const listed = await run('access', 'consumer', 'list');
  assert.match(listed.stdout, new RegExp(`${consumer}\\s+${project}\\s+\\S+\\s+revoked`));
  for (const output of [list, describe, history, listed, refused, historical]) {
    assert.ok(!`${output.stdout}${output.stderr}`.includes(token), 'the token is printed by create only');
  }
});
