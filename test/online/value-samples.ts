import assert from 'node:assert/strict';
import type { FeatureValue } from '../../definitions/feature-value.ts';

/** Values of every feature type, edge cases included, shared by the value codecs' tests. */
export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const allBytes = new Uint8Array(256).map((_, i) => i);

/** Values of every type, edge cases included; each must come back identical (Object.is for numbers). */
export const SAMPLES: Record<string, readonly FeatureValue[]> = {
  bool: [true, false],
  int32: [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)],
  int64: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n],
  float32: [0, -0, 1.5, Math.fround(0.1), Math.fround(3.4e38), Math.fround(1e-45), NaN, Infinity, -Infinity],
  float64: [0, -0, 0.1, 1 / 3, -1e308, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, NaN, Infinity, -Infinity],
  string: ['', 'plain', 'a|b%7C:c', 'ünïcødé 🚀', 'line\nbreak\u0000nul', '{"json":true}'],
  bytes: [bytes(), bytes(0), allBytes],
  timestamp: [0, Date.parse('2025-06-01T12:34:56.789Z'), -86_400_000, 1_700_000_000_000.5],
};

export const LIST_SAMPLES: Record<string, readonly FeatureValue[]> = Object.fromEntries(
  Object.entries(SAMPLES).map(([type, values]) => [`list<${type}>`, [[], [null], [...values], [values[0]!, null, values[values.length - 1]!, null]]]),
);

export function assertSame(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.ok(Object.is(actual, expected), `${where}: ${String(actual)} is not ${String(expected)}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: not an array`);
    assert.equal((actual as unknown[]).length, expected.length, `${where}: length`);
    expected.forEach((item, i) => assertSame((actual as unknown[])[i], item, `${where}[${i}]`));
  } else {
    assert.deepStrictEqual(actual, expected, where);
  }
}

