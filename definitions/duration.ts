/**
 * Durations in definitions: a number of seconds or a string such as '90s', '15m', '12h', '7d',
 * '2w', or a sum of them ('1d12h').
 *
 * @example
 *   parseDurationSeconds('1d12h') // => 129600
 */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

export type Duration = number | string;

export function parseDurationSeconds(value: Duration): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!/^(\d+(\.\d+)?[smhdw])+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) {
    total += Number(amount) * (UNIT_SECONDS[unit!] ?? 0);
  }
  return total;
}

/** The shortest exact string for a number of seconds: 86400 => '1d', 5400 => '1h30m'. */
export function formatDuration(seconds: number): string {
  if (seconds <= 0 || !Number.isInteger(seconds)) return `${seconds}s`;
  let rest = seconds;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's']) {
    const size = UNIT_SECONDS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
