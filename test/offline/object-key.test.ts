// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkBatchId,
  eventDateOf,
  ObjectKeyError,
  objectKey,
  parseObjectKey,
  parseStagingKey,
  stagingKey,
  viewPrefix,
} from '../../stores/offline/object-key.ts';

const parts = { project: 'fraud', view: 'user_spend', version: 2, eventDate: '2024-05-01', batchId: 'b-42' };

test('data keys: layout, parts, and parsing back', () => {
  assert.equal(objectKey(parts), 'fraud/user_spend/v2/date=2024-05-01/b-42.parquet');
  assert.equal(objectKey({ ...parts, part: 3 }), 'fraud/user_spend/v2/date=2024-05-01/b-42.part-00003.parquet');
  assert.deepEqual(parseObjectKey(objectKey(parts)), parts);
  assert.deepEqual(parseObjectKey(objectKey({ ...parts, part: 123456 })), { ...parts, part: 123456 });
  // A batch id that itself ends in '-<digits>' (a UUID) stays unambiguous.
  const uuid = { ...parts, batchId: '0b6f2c1e-8c1d-4e57-9d4b-123456789012', part: 1 };
  assert.deepEqual(parseObjectKey(objectKey(uuid)), uuid);
  assert.ok(objectKey(parts).startsWith(viewPrefix('fraud', 'user_spend', 2)));
});

test('staging keys', () => {
  assert.equal(stagingKey('fraud', 'user_spend', 1, 'b-42'), 'fraud/_staging/user_spend/v1/b-42.parquet');
  assert.deepEqual(parseStagingKey('fraud/_staging/user_spend/v1/b-42.parquet'), { project: 'fraud', view: 'user_spend', version: 1, batchId: 'b-42' });
  assert.equal(parseObjectKey(stagingKey('fraud', 'user_spend', 1, 'b-42')), undefined);
  assert.equal(parseStagingKey(objectKey(parts)), undefined);
});

test('keys that are not data keys parse to undefined', () => {
  for (const key of [
    'fraud/user_spend/v2/date=2024-02-30/b.parquet',
    'fraud/user_spend/v0/date=2024-05-01/b.parquet',
    'fraud/user_spend/v2/date=2024-05-01/b.csv',
    'fraud/user_spend/v2/date=2024-05-01/b.part-1.parquet',
    'fraud/user_spend/v2/b.parquet',
    'fraud/_staging/v1/date=2024-05-01/b.parquet',
  ]) {
    assert.equal(parseObjectKey(key), undefined, key);
  }
});

test('batch ids, names, versions and dates are validated', () => {
  assert.equal(checkBatchId('sha-0123abcd_x'), 'sha-0123abcd_x');
  for (const bad of ['', '-x', 'a/b', 'a.b', '../x', 'a b', 'x'.repeat(129), 'é']) {
    assert.throws(() => checkBatchId(bad), ObjectKeyError, bad);
    assert.throws(() => objectKey({ ...parts, batchId: bad }), ObjectKeyError, bad);
  }
  assert.throws(() => objectKey({ ...parts, eventDate: '2024-5-1' }), /calendar day/);
  assert.throws(() => objectKey({ ...parts, eventDate: '2023-02-29' }), /calendar day/);
  assert.throws(() => objectKey({ ...parts, version: 0 }), /version/);
  assert.throws(() => objectKey({ ...parts, part: -1 }), /part/);
  assert.throws(() => objectKey({ ...parts, view: 'a/b' }), /view/);
  assert.throws(() => objectKey({ ...parts, view: '_staging' }), /view/);
  assert.throws(() => objectKey({ ...parts, project: '../p' }), /project/);
});

test('event dates are UTC days', () => {
  assert.equal(eventDateOf(Date.UTC(2024, 4, 1, 23, 59, 59, 999)), '2024-05-01');
  assert.equal(eventDateOf(Date.UTC(2024, 4, 2)), '2024-05-02');
  assert.equal(eventDateOf(-1), '1969-12-31');
});
