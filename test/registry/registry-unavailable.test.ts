// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresRegistry } from '../../stores/registry/postgres-registry.ts';
import { RegistryUnavailableError } from '../../stores/registry/registry-unavailable-error.ts';

test('an unreachable registry fails with one error naming the URL, without its password', async () => {
  const registry = new PostgresRegistry({ url: 'postgres://granary:s3cret@127.0.0.1:1/granary', project: 'p' });
  try {
    await assert.rejects(registry.migrate(), (error: unknown) => {
      assert.ok(error instanceof RegistryUnavailableError);
      assert.match(error.message, /^cannot reach the registry at postgres:\/\/granary:\*\*\*@127\.0\.0\.1:1\/granary: .*ECONNREFUSED/);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  } finally {
    await registry.close();
    await registry.close();
  }
});
