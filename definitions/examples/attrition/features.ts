import { entity, featureService, featureView, parquetSource } from 'granary';

/** The employee-attrition model's features: tenure, pay and satisfaction signals per employee. */

export const employee = entity({
  name: 'employee',
  joinKey: 'employee_id',
  valueType: 'int64',
  description: 'An employee, by HR system id.',
});

export const hrSnapshots = parquetSource({
  name: 'hr_snapshots',
  path: 'data/employee_features',
  eventTimestampColumn: 'event_timestamp',
  createdTimestampColumn: 'created_timestamp',
  description: 'Weekly HR snapshots per employee.',
});

export const employeeFeatures = featureView({
  name: 'employee_features',
  entities: [employee],
  source: hrSnapshots,
  schema: [
    { name: 'tenure', type: 'float32', description: 'Years at the company.' },
    { name: 'salary_band', type: 'int64', description: 'Pay band, 1 (lowest) to 8.' },
    { name: 'overtime', type: 'int64', description: 'Overtime hours in the last month.' },
    { name: 'promotion_stagnation', type: 'float32', description: 'Years since the last promotion.' },
    { name: 'career_velocity', type: 'float32', description: 'Promotions per year of tenure.' },
    { name: 'overall_satisfaction', type: 'float32', description: 'Latest engagement survey score, 1 to 5.' },
  ],
  ttl: '7d',
  owner: 'people-analytics@example.com',
  description: 'What the attrition model knows about each employee.',
  tags: { team: 'people-analytics' },
});

export const attritionModel = featureService({
  name: 'attrition_model_v1',
  features: [
    'employee_features:tenure',
    'employee_features:salary_band',
    'employee_features:overtime',
    'employee_features:promotion_stagnation',
    'employee_features:career_velocity',
    'employee_features:overall_satisfaction',
  ],
  owner: 'people-analytics@example.com',
  description: 'The attrition model v1, features in its training order.',
});
