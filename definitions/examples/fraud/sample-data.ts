import { seededRandom } from '../seeded-random.ts';

/**
 * Sample rows for user_spend_features: one daily aggregate per user for the last `days` days
 * before `now`, plus a few late corrections (same event time, newer created time), as a
 * payments warehouse would deliver them.
 *
 * @example
 *   sampleUserSpendRows({ now: new Date(), users: 100, days: 3 }).length // => 300 plus corrections
 */
export type UserSpendRow = {
  user_id: string;
  event_timestamp: Date;
  created_timestamp: Date;
  spend_7d_avg: number;
  spend_30d_avg: number;
  txn_count_7d: bigint;
  spend_velocity: number;
};

const DAY = 86_400_000;

export function sampleUserSpendRows(options: { now: Date; users?: number; days?: number; seed?: number }): UserSpendRow[] {
  const { now, users = 1000, days = 3, seed = 7 } = options;
  const random = seededRandom(seed);
  const today = Math.floor(now.getTime() / DAY) * DAY;
  const rows: UserSpendRow[] = [];
  for (let u = 0; u < users; u++) {
    const base = 20 + random() * 180;
    for (let d = days - 1; d >= 0; d--) {
      // Aggregates land one hour after each day closes; the newest is from earlier today.
      const eventTime = Math.min(today - d * DAY + 3_600_000, now.getTime() - 60_000);
      const spend7 = base * (0.6 + random() * 0.8);
      const spend30 = base * (0.8 + random() * 0.4);
      rows.push({
        user_id: `u${String(u).padStart(5, '0')}`,
        event_timestamp: new Date(eventTime),
        created_timestamp: new Date(eventTime + 300_000),
        spend_7d_avg: round(spend7),
        spend_30d_avg: round(spend30),
        txn_count_7d: BigInt(Math.floor(3 + random() * 40)),
        spend_velocity: round(spend7 / spend30),
      });
    }
  }
  // Late corrections: the warehouse re-sends some of the newest aggregates with fixed values.
  const corrections = rows.filter((_, i) => i % days === days - 1 && random() < 0.05);
  for (const row of corrections) {
    rows.push({ ...row, created_timestamp: new Date(row.created_timestamp.getTime() + 600_000), spend_7d_avg: round(row.spend_7d_avg * 1.1) });
  }
  return rows;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** One row of the fraud model's label file: a scored transaction and whether it was fraud. */
export type FraudLabelRow = {
  user_id: string;
  event_timestamp: Date;
  is_fraud: number;
};

const HOUR = 3_600_000;

/**
 * Labels for training the fraud model on the rows of sampleUserSpendRows (same `now` and
 * `days`): `perUser` transactions of each of the first `users` users, at times spread evenly
 * over those days, each from 6 hours before to 18 hours after one of the daily aggregates landed
 * (never after `now`). So some come before the day's aggregate, and a point-in-time join must
 * give them the day before's values (or none, on the first day); each is fraud with a chance
 * of 1 in 20.
 * Ordered by user, then time. The same arguments give the same rows.
 *
 * @example
 *   sampleFraudLabelRows({ now: new Date(), users: 100, perUser: 3 }).length // => 300
 *   // => [{ user_id: 'u00000', event_timestamp: <2 days before today, 00:03:17Z>, is_fraud: 0 }, ...] (no aggregate yet: no features)
 */
export function sampleFraudLabelRows(options: { now: Date; users?: number; days?: number; perUser?: number; seed?: number }): FraudLabelRow[] {
  const { now, users = 100, days = 3, perUser = 3, seed = 29 } = options;
  const random = seededRandom(seed);
  const today = Math.floor(now.getTime() / DAY) * DAY;
  const latest = now.getTime() - 60_000;
  const rows: FraudLabelRow[] = [];
  for (let u = 0; u < users; u++) {
    const times: number[] = [];
    for (let i = 0; i < perUser; i++) {
      // Spread over the days, oldest first: with perUser = days, one label a day.
      const landed = today - (days - 1 - Math.floor((i * days) / perUser)) * DAY + HOUR;
      // Whole seconds, as a label file would have them.
      times.push(Math.min(Math.round((landed - 6 * HOUR + random() * 24 * HOUR) / 1000) * 1000, latest));
    }
    times.sort((a, b) => a - b);
    for (const time of times) {
      rows.push({ user_id: `u${String(u).padStart(5, '0')}`, event_timestamp: new Date(time), is_fraud: random() < 0.05 ? 1 : 0 });
    }
  }
  return rows;
}
