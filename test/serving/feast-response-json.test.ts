// granary-test: no-stack
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FeatureValue } from '../../definitions/feature-value.ts';
import type { ValueType } from '../../definitions/value-type.ts';
import { feastResponse, feastResponseJson } from '../../serving/feast-format.ts';
import type { FeatureStatus } from '../../serving/feature-status.ts';
import type { OnlineFeatureColumns } from '../../serving/online-features.ts';

// The HTTP server writes its response with feastResponseJson (no intermediate objects, shared
// columns written once); it must be the very text JSON.stringify(feastResponse(...)) gives.
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const shared = { statuses: ['PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE', 'PRESENT'] as FeatureStatus[], eventTimestamps: [T0, null, T0 - 86_400_000, T0 + 123] };
const nulls = { statuses: ['NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE', 'PRESENT'] as FeatureStatus[], eventTimestamps: shared.eventTimestamps };
const columns: { type: ValueType; values: (FeatureValue | null)[]; statuses?: FeatureStatus[] }[] = [
  { type: 'float64', values: [12.5, null, null, -0] },
  { type: 'float64', values: [Number.NaN, null, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] },
  { type: 'float32', values: [Math.fround(71.52), null, null, Math.fround(Number.NaN)] },
  { type: 'int64', values: [2n ** 60n, 0n, -(2n ** 53n), 9007199254740991n] },
  { type: 'int32', values: [null, 1, -2, 2147483647], statuses: nulls.statuses },
  { type: 'string', values: ['FR', 'quote " and \\ and \u2028 and \ud800', '', 'é'] },
  { type: 'bool', values: [true, false, null, true] },
  { type: 'bytes', values: [new Uint8Array([1, 2, 255]), null, new Uint8Array(0), null] },
  { type: 'timestamp', values: [T0, T0 + 1, null, Number.NaN] },
  { type: 'list<float32>', values: [[Math.fround(0.1), null], null, [], [Number.NaN]] },
  { type: 'list<int64>', values: [[1n, 2n ** 62n], null, null, [null]] },
  { type: 'list<string>', values: [['a', '"b"'], null, null, []] },
  { type: 'list<bytes>', values: [[new Uint8Array([9])], null, null, null] },
  { type: 'list<timestamp>', values: [[T0, null], null, null, null] },
  // A default served in place of a missing value, of a type the fast path does not take.
  { type: 'float64', values: [1, 0, 0, 2] },
];

function table(rowCount: number): OnlineFeatureColumns {
  return {
    joinKeys: ['user_id', 'account'],
    entityColumns: [['u1', 'u"2', 'u3', 'u4'].slice(0, rowCount), [1n, 2n ** 60n, -(2n ** 60n), 7].slice(0, rowCount)],
    featureNames: columns.map((_, f) => `f${f}`),
    featureRefs: columns.map((_, f) => `v:f${f}`),
    featureTypes: columns.map((c) => c.type),
    columns: columns.map((c) => ({
      values: c.values.slice(0, rowCount),
      statuses: rowCount === 4 ? (c.statuses ?? shared.statuses) : (c.statuses ?? shared.statuses).slice(0, rowCount),
      eventTimestamps: rowCount === 4 ? shared.eventTimestamps : shared.eventTimestamps.slice(0, rowCount),
    })),
    rowCount,
  };
}

test('feastResponseJson writes the same text as JSON.stringify(feastResponse), every value type, shared and own columns', () => {
  for (const rows of [4, 1, 0]) {
    const t = table(rows);
    assert.equal(feastResponseJson(t), JSON.stringify(feastResponse(t)), `${rows} rows`);
  }
  const parsed = JSON.parse(feastResponseJson(table(4)));
  assert.deepEqual(parsed.results[2].event_timestamps, ['2026-01-02T03:04:05Z', '1970-01-01T00:00:00Z', '2026-01-01T03:04:05Z', '2026-01-02T03:04:05.123Z']);
  assert.deepEqual(parsed.results[3].values, ['NaN', null, 'Infinity', '-Infinity']);
  assert.deepEqual(parsed.results[5].values, [String(2n ** 60n), 0, String(-(2n ** 53n)), 9007199254740991]);
  assert.deepEqual(parsed.results[6].statuses, ['NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE', 'PRESENT']);
});

test('feastResponseJson without join keys (a table of features only) is still the same text', () => {
  const t = { ...table(4), joinKeys: [], entityColumns: [] };
  assert.equal(feastResponseJson(t), JSON.stringify(feastResponse(t)));
});
