// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planChanges } from '../../definitions/changes/plan-changes.ts';
import { contentHash } from '../../definitions/changes/content-hash.ts';
import { specOf } from '../../definitions/spec.ts';
import { featureViewFromSpec } from '../../definitions/view-from-spec.ts';
import { BASE_FEATURES, registeredFrom, spendRepo, spendView } from '../registry/registry-fixtures.ts';

/**
 * Issue 18: `pii: true` on a feature and `sensitivity: 'restricted'` on a view. Optional, written
 * to the spec only when set (every existing spec keeps its content hash), additive in plan, kept
 * through the registry's spec, and refused with a clear error when malformed.
 */
const piiView = () => spendView({ schema: BASE_FEATURES.map((f, i) => (i === 0 ? { ...f, pii: true } : f)), sensitivity: 'restricted' });

test('unset, the spec and its hash are what they were; set, they round-trip through the spec', () => {
  const plain = specOf(spendView());
  assert.ok(!('sensitivity' in plain));
  assert.ok(plain.features.every((f) => !('pii' in f)));
  assert.equal(contentHash(specOf(spendView({ sensitivity: 'normal' }))), contentHash(plain));
  const marked = featureViewFromSpec(specOf(piiView()));
  assert.equal(marked.sensitivity, 'restricted');
  assert.deepEqual(marked.features.map((f) => f.pii), BASE_FEATURES.map((_, i) => i === 0));
});

test('marking a feature pii or a view restricted is an additive change that breaks no consumer', () => {
  const plan = planChanges('p', registeredFrom(spendRepo()), spendRepo(piiView()));
  const change = plan.changes.find((c) => c.kind === 'featureView');
  assert.ok(change);
  assert.equal(change.action, 'update');
  assert.deepEqual(change.fields.map((f) => f.path).sort(), [`features.${BASE_FEATURES[0]!.name}.pii`, 'sensitivity']);
  assert.ok(change.fields.every((f) => !f.breaking && !f.breaksConsumers), JSON.stringify(change.fields));
});

test('malformed values are refused naming the view and the field', () => {
  assert.throws(() => spendView({ sensitivity: 'secret' as never }), /feature view 'user_spend', field 'sensitivity': must be 'normal' or 'restricted', got 'secret'/);
  assert.throws(() => spendView({ schema: [{ name: 'email', type: 'string', pii: 'yes' as never }] }), /field 'schema.email'.*pii must be true or false, got 'yes'/);
});
