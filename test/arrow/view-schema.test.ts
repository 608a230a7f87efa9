// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOIN_KEY_METADATA, viewColumns, viewSchema } from '../../arrow/view-schema.ts';
import { everyType, spend } from '../offline/offline-fixtures.ts';

test('join keys, event and created timestamps, then features, with their Arrow types', () => {
  assert.deepEqual(
    viewSchema(everyType).fields.map((f) => `${f.name}: ${f.type}${f.nullable ? '' : ' not null'}`),
    [
      'user_id: Utf8 not null',
      'merchant_id: Int64 not null',
      'event_timestamp: Timestamp<MILLISECOND, UTC> not null',
      'created_timestamp: Timestamp<MILLISECOND, UTC>',
      'f_bool: Bool',
      'f_int32: Int32',
      'f_int64: Int64',
      'f_float32: Float32',
      'f_float64: Float64 not null',
      'f_string: Utf8',
      'f_bytes: Binary',
      'f_timestamp: Timestamp<MILLISECOND, UTC>',
      'f_list_int64: List<Int64>',
      'f_list_string: List<Utf8>',
      'f_list_float32: List<Float32>',
      'f_list_bool: List<Bool>',
      'f_list_timestamp: List<Timestamp<MILLISECOND, UTC>>',
    ],
  );
  const schema = viewSchema(spend);
  assert.deepEqual(schema.fields.map((f) => f.name), ['user_id', 'event_timestamp', 'spend_7d_avg', 'txn_count_7d', 'is_vip']);
  assert.deepEqual(schema.fields.filter((f) => f.metadata.get(JOIN_KEY_METADATA) === 'true').map((f) => f.name), ['user_id']);
  assert.deepEqual(viewColumns(everyType).slice(0, 4).map((c) => c.role), ['joinKey', 'joinKey', 'eventTimestamp', 'createdTimestamp']);
});
