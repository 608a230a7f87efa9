import { buildFeatureRepo, entity, featureView, parquetSource, type FeatureRepo } from '../../definitions/index.ts';

/** A small view with every kind of value, used by the pipeline tests. */
export const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });

export const driverStats = featureView({
  name: 'driver_stats',
  entities: [driver],
  source: parquetSource({ name: 'driver_source', path: 'data/driver_stats', createdTimestampColumn: 'created_timestamp' }),
  schema: [
    { name: 'conv_rate', type: 'float32' },
    { name: 'acc_rate', type: 'float64' },
    { name: 'trips', type: 'int64' },
    { name: 'tier', type: 'string' },
    { name: 'active', type: 'bool' },
    { name: 'zones', type: 'list<string>' },
  ],
  ttl: '2d',
});

export const driverRepo: FeatureRepo = buildFeatureRepo('.', [{ definition: driverStats }]);

export type DriverRow = {
  driver_id: bigint;
  event_timestamp: Date;
  created_timestamp: Date;
  conv_rate: number | null;
  acc_rate: number;
  trips: bigint;
  tier: string;
  active: boolean;
  zones: string[];
};

/** `count` rows for drivers 1..entities, event times spread over the last hours before now. */
export function driverRows(count: number, options: { entities?: number; now?: number; salt?: number } = {}): DriverRow[] {
  const { entities = count, now = Date.now(), salt = 0 } = options;
  return Array.from({ length: count }, (_, i) => {
    const eventTime = now - 3_600_000 - ((i * 7919 + salt) % 36_000_000);
    return {
      driver_id: BigInt(1 + (i % entities)),
      event_timestamp: new Date(eventTime),
      created_timestamp: new Date(eventTime + 1000),
      conv_rate: i % 13 === 0 ? null : Math.fround(((i + salt) % 100) / 100),
      acc_rate: ((i * 31 + salt) % 1000) / 1000,
      trips: BigInt((i * 17 + salt) % 5000),
      tier: ['gold', 'silver', 'bronze'][(i + salt) % 3]!,
      active: (i + salt) % 2 === 0,
      zones: [`z${i % 5}`, `z${(i + salt) % 7}`],
    };
  });
}
