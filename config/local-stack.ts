/**
 * The local stack's addresses: the one place that knows which port each service of
 * `npm run stack -- up` listens on. Ports stay clear of the services' usual defaults so a system
 * Redis or PostgreSQL is never hit by mistake; each can be moved with an environment variable.
 *
 * @example
 *   localStack().redis.url // => 'redis://127.0.0.1:16379'
 *   localStack().minio.offlineUrl // => 's3://granary/offline' (the offline store's default)
 */
export interface LocalStack {
  readonly host: string;
  readonly redis: { readonly port: number; readonly url: string };
  readonly postgres: { readonly port: number; readonly url: string; readonly database: string };
  readonly minio: {
    readonly port: number;
    readonly consolePort: number;
    readonly endpoint: string;
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly bucket: string;
    /** Where the offline store lives by default: `s3://<bucket>/offline` on this MinIO (`up` creates the bucket). */
    readonly offlineUrl: string;
  };
  readonly temporal: { readonly port: number; readonly address: string; readonly namespace: string };
}

export const STACK_PORT_VARIABLES = {
  redis: 'GRANARY_STACK_REDIS_PORT',
  postgres: 'GRANARY_STACK_POSTGRES_PORT',
  minio: 'GRANARY_STACK_MINIO_PORT',
  minioConsole: 'GRANARY_STACK_MINIO_CONSOLE_PORT',
  temporal: 'GRANARY_STACK_TEMPORAL_PORT',
} as const;

const DEFAULT_PORTS = { redis: 16379, postgres: 15432, minio: 19000, minioConsole: 19001, temporal: 17233 };

export function localStack(env: NodeJS.ProcessEnv = process.env): LocalStack {
  const host = '127.0.0.1';
  const port = (key: keyof typeof DEFAULT_PORTS): number => {
    const name = STACK_PORT_VARIABLES[key];
    const raw = env[name];
    if (raw === undefined || raw === '') return DEFAULT_PORTS[key];
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
      throw new Error(`${name} must be a port number (1-65535), got '${raw}'`);
    }
    return value;
  };
  const redisPort = port('redis');
  const postgresPort = port('postgres');
  const minioPort = port('minio');
  const temporalPort = port('temporal');
  const bucket = 'granary';
  return Object.freeze({
    host,
    redis: { port: redisPort, url: `redis://${host}:${redisPort}` },
    postgres: { port: postgresPort, database: 'granary', url: `postgres://postgres@${host}:${postgresPort}/granary` },
    minio: {
      port: minioPort,
      consolePort: port('minioConsole'),
      endpoint: `http://${host}:${minioPort}`,
      accessKeyId: 'granary',
      secretAccessKey: 'granary-secret',
      bucket,
      offlineUrl: `s3://${bucket}/offline`,
    },
    temporal: { port: temporalPort, address: `${host}:${temporalPort}`, namespace: 'default' },
  });
}
