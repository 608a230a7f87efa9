// granary-test: no-stack
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../config/granary-config.ts';
import { tempDir } from '../support/temp-dir.ts';

/** The setting ingest.maxFutureSkew (GRANARY_MAX_FUTURE_SKEW): how far past now an ingested time may be. */
test('ingest.maxFutureSkew: one hour by default, a duration in granary.yaml, overridden by GRANARY_MAX_FUTURE_SKEW, bad values named', async () => {
  assert.equal(loadConfig({ repoDir: '/tmp/some-repo', env: {} }).ingest.maxFutureSkewMs, 3_600_000);
  const dir = await tempDir('config');
  await writeFile(join(dir, 'granary.yaml'), 'ingest:\n  maxFutureSkew: 15m\n');
  assert.equal(loadConfig({ repoDir: dir, env: {} }).ingest.maxFutureSkewMs, 900_000);
  assert.equal(loadConfig({ repoDir: dir, env: { GRANARY_MAX_FUTURE_SKEW: '1d' } }).ingest.maxFutureSkewMs, 86_400_000);
  assert.equal(loadConfig({ repoDir: dir, env: { GRANARY_MAX_FUTURE_SKEW: '90' } }).ingest.maxFutureSkewMs, 90_000, 'plain seconds');
  assert.equal(loadConfig({ repoDir: dir, env: { GRANARY_MAX_FUTURE_SKEW: '0s' } }).ingest.maxFutureSkewMs, 0);
  assert.throws(
    () => loadConfig({ repoDir: dir, env: { GRANARY_MAX_FUTURE_SKEW: 'soon' } }),
    (error: unknown) => error instanceof ConfigError && /setting 'ingest\.maxFutureSkew' \(granary\.yaml or GRANARY_MAX_FUTURE_SKEW\): must be a duration such as '1h'.*got "soon"/.test(error.message),
  );
  await writeFile(join(dir, 'granary.yaml'), 'ingest:\n  maxFutureSkw: 1h\n');
  assert.throws(() => loadConfig({ repoDir: dir, env: {} }), /unknown setting 'ingest\.maxFutureSkw' \(known: maxFutureSkew\)/);
});
