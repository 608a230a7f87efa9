// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';

test("the package entry exports the SDK's FeatureStore beside the definition language", async () => {
  const api = await import('granary');
  assert.equal(typeof api.FeatureStore, 'function');
  assert.equal(typeof api.FeatureStore.open, 'function');
  assert.equal(typeof api.featureView, 'function');
  assert.equal(typeof api.checkValue, 'function');
});

test("'granary/definitions' is the definition language alone (what a feature repo's import of 'granary' loads)", async () => {
  const definitions = await import('granary/definitions');
  assert.equal(typeof definitions.entity, 'function');
  assert.equal((definitions as Record<string, unknown>).FeatureStore, undefined);
});
