import { entity, featureService, featureView, parquetSource } from 'granary';

/** The fraud model's features: spend statistics per user, refreshed as transactions land. */

export const user = entity({
  name: 'user',
  joinKey: 'user_id',
  valueType: 'string',
  description: 'A customer holding a card.',
});

export const transactions = parquetSource({
  name: 'user_transactions_daily',
  path: 'data/user_spend',
  eventTimestampColumn: 'event_timestamp',
  createdTimestampColumn: 'created_timestamp',
  description: 'Daily spend aggregates per user, from the payments warehouse.',
});

export const userSpendFeatures = featureView({
  name: 'user_spend_features',
  entities: [user],
  source: transactions,
  schema: [
    { name: 'spend_7d_avg', type: 'float32', description: 'Average daily spend over the last 7 days.' },
    { name: 'spend_30d_avg', type: 'float32', description: 'Average daily spend over the last 30 days.' },
    { name: 'txn_count_7d', type: 'int64', description: 'Transactions in the last 7 days.' },
    { name: 'spend_velocity', type: 'float32', description: '7-day average over 30-day average.' },
  ],
  ttl: '1d',
  owner: 'fraud-team@example.com',
  description: 'Spend behaviour of each user, the core signal of the fraud model.',
  tags: { team: 'fraud', tier: 'gold' },
});

export const fraudModel = featureService({
  name: 'fraud_model_v1',
  features: [userSpendFeatures],
  owner: 'fraud-team@example.com',
  description: 'Everything the fraud model v1 reads, in its training order.',
});
