import { seededRandom } from '../seeded-random.ts';

/**
 * Sample rows for employee_features: a weekly HR snapshot per employee for the last `weeks`
 * weeks before `now`, taken on the hour (so calls within the same hour give the same rows, and
 * ingesting them again is a no-op).
 *
 * @example
 *   sampleEmployeeRows({ now: new Date(), employees: 50, weeks: 4 }).length // => 200
 */
export type EmployeeRow = {
  employee_id: bigint;
  event_timestamp: Date;
  created_timestamp: Date;
  tenure: number;
  salary_band: bigint;
  overtime: bigint;
  promotion_stagnation: number;
  career_velocity: number;
  overall_satisfaction: number;
};

const DAY = 86_400_000;

export function sampleEmployeeRows(options: { now: Date; employees?: number; weeks?: number; seed?: number }): EmployeeRow[] {
  const { now, employees = 500, weeks = 4, seed = 11 } = options;
  const random = seededRandom(seed);
  const hour = Math.floor(now.getTime() / 3_600_000) * 3_600_000;
  const rows: EmployeeRow[] = [];
  for (let e = 0; e < employees; e++) {
    const tenure = 0.5 + random() * 15;
    const band = 1 + Math.floor(random() * 8);
    const stagnation = Math.min(tenure, random() * 6);
    for (let w = weeks - 1; w >= 0; w--) {
      const eventTime = hour - w * 7 * DAY - 3 * 3_600_000;
      const weeksAgo = (w * 7) / 365;
      rows.push({
        employee_id: BigInt(100_000 + e),
        event_timestamp: new Date(eventTime),
        created_timestamp: new Date(eventTime + 60_000),
        tenure: round(tenure - weeksAgo),
        salary_band: BigInt(band),
        overtime: BigInt(Math.floor(random() * 40)),
        promotion_stagnation: round(Math.max(0, stagnation - weeksAgo)),
        career_velocity: round(band / Math.max(tenure, 1) / 2),
        overall_satisfaction: round(1 + random() * 4),
      });
    }
  }
  return rows;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
