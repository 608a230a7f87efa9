import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseDurationSeconds } from '../definitions/duration.ts';
import { localStack } from './local-stack.ts';
import { maskSecrets, registerSecret, registerUrlPassword } from './mask-secrets.ts';
import { parseClusterUrl, type ClusterUrl } from '../stores/online/redis-cluster-url.ts';

/**
 * Granary's configuration, from one place: `granary.yaml` in the feature repo, each setting
 * overridable by a `GRANARY_*` environment variable, the rest from local-stack defaults.
 *
 * @example
 *   // granary.yaml
 *   //   project: fraud
 *   //   offline: { url: s3://granary/offline }
 *   const config = loadConfig({ repoDir: 'definitions/examples/fraud' });
 *   config.offline // => { kind: 's3', bucket: 'granary', prefix: 'offline', s3: {...} }
 */
export interface S3Settings {
  readonly endpoint: string | null;
  readonly region: string;
  readonly accessKeyId: string | null;
  readonly secretAccessKey: string | null;
  readonly forcePathStyle: boolean;
  /**
   * A PEM file of the CA that signed the https endpoint's certificate (a private CA), trusted in
   * place of Node's own; null trusts Node's CAs (and NODE_EXTRA_CA_CERTS). Needs an https endpoint.
   */
  readonly tlsCa?: string | null;
}

export type OfflineSettings =
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly s3: S3Settings };

export interface GranaryConfig {
  readonly project: string;
  readonly repoDir: string;
  readonly registry: { readonly url: string };
  readonly online: {
    /**
     * redis:// or rediss:// for one Redis (or the credentials of a Sentinel setup), or
     * `redis+cluster://[user:password@]host:port,host:port,...` (`rediss+cluster://` with TLS) for
     * a Redis Cluster, the hosts being seed nodes (any few of the cluster's nodes).
     */
    readonly url: string;
    /** The seed nodes (host:port) of `url` when it names a Redis Cluster; empty otherwise. */
    readonly clusterNodes: readonly string[];
    readonly keyPrefix: string;
    /** When Redis lost a generation, materialization starts a rebuild ('rebuild', the default) or fails ('fail'). */
    readonly onRedisLoss: 'rebuild' | 'fail';
    /**
     * Redis Sentinel: the sentinels (host:port) that name the master; empty for a plain Redis at
     * `url`. With sentinels, `url` still gives the password, database and TLS (rediss://), not the host.
     */
    readonly sentinels: readonly string[];
    /** The master's name the sentinels monitor (default 'granary'). */
    readonly sentinelMaster: string;
    /**
     * A PEM file of the CA that signed Redis's certificate (a private CA), trusted in place of
     * Node's own; null trusts Node's CAs (and NODE_EXTRA_CA_CERTS). Needs a rediss:// url.
     */
    readonly tlsCa: string | null;
  };
  readonly offline: OfflineSettings;
  /** Ingestion refuses event and created timestamps later than now + this skew (ms; default one hour). */
  readonly ingest: { readonly maxFutureSkewMs: number };
  readonly temporal: {
    readonly address: string;
    readonly namespace: string;
    readonly taskQueue: string;
    /** How long a command waiting on a workflow waits for a worker to poll the task queue before it stops (seconds). */
    readonly workerTimeoutSeconds: number;
  };
  readonly serving: {
    readonly host: string;
    readonly port: number;
    readonly maxEntities: number;
    readonly timeoutMs: number;
    /** /health when Redis lost a view's active generation: 503 ('fail', the default) or 200 ('ok'; the body still says it). */
    readonly healthOnLoss: 'ok' | 'fail';
    /**
     * 'token' (the default): every read names a consumer by its token and reads only what it is
     * granted (feature server, SDK, get-online-features, historical). 'none': anyone reads
     * everything; for a laptop only, and the server says so loudly at start.
     */
    readonly auth: 'token' | 'none';
    /** The consumer token this process reads with (SDK, CLI): GRANARY_TOKEN, preferably, rather than a file. Masked in every output. */
    readonly token: string | null;
    /**
     * The feature server's budget of failed authentications per client address: this many a
     * second, in bursts of 10 times as many; past it a bad token gets 429 (Retry-After) instead of
     * 401. Valid tokens are always served. Default 10; 0 for no limit.
     */
    readonly authFailuresPerSecond: number;
  };
  readonly monitoring: {
    /** URLs the monitoring workflow POSTs every state change to (http or https; a list, or comma-separated in the variable). */
    readonly webhooks: readonly string[];
    /** Share of the feature server's reads of a feature service logged for skew monitoring, 0..1 (default 0.01; 0 turns it off). */
    readonly skewSampleRate: number;
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const CONFIG_FILE = 'granary.yaml';

/** A command waiting on a workflow stops after this long without a worker polling its task queue. */
export const DEFAULT_WORKER_TIMEOUT_SECONDS = 180;

/** Every environment variable Granary reads, and the setting it overrides. */
export const CONFIG_VARIABLES = {
  GRANARY_PROJECT: 'project',
  GRANARY_POSTGRES_URL: 'registry.url',
  GRANARY_REDIS_URL: 'online.url',
  GRANARY_REDIS_KEY_PREFIX: 'online.keyPrefix',
  GRANARY_ON_REDIS_LOSS: 'online.onRedisLoss',
  GRANARY_REDIS_SENTINELS: 'online.sentinels',
  GRANARY_REDIS_SENTINEL_MASTER: 'online.sentinelMaster',
  GRANARY_REDIS_TLS_CA: 'online.tlsCa',
  GRANARY_MAX_FUTURE_SKEW: 'ingest.maxFutureSkew',
  GRANARY_OFFLINE_URL: 'offline.url',
  GRANARY_S3_ENDPOINT: 'offline.s3.endpoint',
  GRANARY_S3_REGION: 'offline.s3.region',
  GRANARY_S3_ACCESS_KEY_ID: 'offline.s3.accessKeyId',
  GRANARY_S3_SECRET_ACCESS_KEY: 'offline.s3.secretAccessKey',
  GRANARY_S3_TLS_CA: 'offline.s3.tlsCa',
  GRANARY_TEMPORAL_ADDRESS: 'temporal.address',
  GRANARY_TEMPORAL_NAMESPACE: 'temporal.namespace',
  GRANARY_TASK_QUEUE: 'temporal.taskQueue',
  GRANARY_WORKER_TIMEOUT: 'temporal.workerTimeoutSeconds',
  GRANARY_SERVING_HOST: 'serving.host',
  GRANARY_SERVING_PORT: 'serving.port',
  GRANARY_SERVING_MAX_ENTITIES: 'serving.maxEntities',
  GRANARY_SERVING_TIMEOUT_MS: 'serving.timeoutMs',
  GRANARY_SERVING_HEALTH_ON_LOSS: 'serving.healthOnLoss',
  GRANARY_SERVING_AUTH: 'serving.auth',
  GRANARY_TOKEN: 'serving.token',
  GRANARY_SERVING_AUTH_FAILURES_PER_SECOND: 'serving.authFailuresPerSecond',
  GRANARY_MONITOR_WEBHOOKS: 'monitoring.webhooks',
  GRANARY_MONITOR_SKEW_SAMPLE_RATE: 'monitoring.skewSampleRate',
} as const;

const FILE_SHAPE: Record<string, readonly string[] | null> = {
  project: null,
  registry: ['url'],
  online: ['url', 'keyPrefix', 'onRedisLoss', 'sentinels', 'sentinelMaster', 'tlsCa'],
  offline: ['url', 's3'],
  ingest: ['maxFutureSkew'],
  temporal: ['address', 'namespace', 'taskQueue', 'workerTimeoutSeconds'],
  serving: ['host', 'port', 'maxEntities', 'timeoutMs', 'healthOnLoss', 'auth', 'token', 'authFailuresPerSecond'],
  monitoring: ['webhooks', 'skewSampleRate'],
};
const S3_FIELDS = ['endpoint', 'region', 'accessKeyId', 'secretAccessKey', 'forcePathStyle', 'tlsCa'];

export interface LoadConfigOptions {
  /** The feature repo folder holding granary.yaml; defaults to the current folder. Relative
   * paths in granary.yaml are relative to it. */
  repoDir?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadConfigOptions = {}): GranaryConfig {
  const env = options.env ?? process.env;
  const repoDir = resolve(options.repoDir ?? '.');
  const file = join(repoDir, CONFIG_FILE);
  const fromFile = existsSync(file) ? readConfigFile(file) : {};
  const stack = localStack(env);

  const pick = (variable: keyof typeof CONFIG_VARIABLES, fileValue: unknown, fallback: unknown): unknown => {
    const fromEnv = env[variable];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fileValue ?? fallback;
  };
  const section = (name: string): Record<string, unknown> => (fromFile[name] as Record<string, unknown>) ?? {};
  const s3File = (section('offline').s3 as Record<string, unknown>) ?? {};
  const where = (setting: string): string => `setting '${setting}' (${CONFIG_FILE} or ${variableOf(setting)})`;

  const project = str(where('project'), pick('GRANARY_PROJECT', fromFile.project, 'default'));
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(project)) {
    throw new ConfigError(`${where('project')}: must be letters, digits, '_' or '-', got '${project}'`);
  }
  // Unset, the offline store is the local stack's MinIO (s3://granary/offline): never a folder
  // of whichever working directory a process starts in. A local folder is an explicit choice.
  const offlineFromEnv = env.GRANARY_OFFLINE_URL;
  const offlineUrl = str(where('offline.url'), pick('GRANARY_OFFLINE_URL', section('offline').url, stack.minio.offlineUrl));
  const offlineBase = offlineFromEnv ? process.cwd() : repoDir;
  registerSecret(pick('GRANARY_S3_SECRET_ACCESS_KEY', s3File.secretAccessKey, null));
  registerSecret(pick('GRANARY_TOKEN', section('serving').token, null));
  // `endpoint: aws` (or `null` in granary.yaml, or GRANARY_S3_ENDPOINT=aws) means AWS S3 itself:
  // no endpoint, credentials from the AWS SDK's default chain unless given, virtual-hosted style.
  const endpointSetting = pick('GRANARY_S3_ENDPOINT', 'endpoint' in s3File && s3File.endpoint === null ? 'aws' : s3File.endpoint, stack.minio.endpoint);
  const onAws = endpointSetting === 'aws';
  const s3: S3Settings = {
    endpoint: onAws ? null : optStr(where('offline.s3.endpoint'), endpointSetting),
    region: str(where('offline.s3.region'), pick('GRANARY_S3_REGION', s3File.region, 'us-east-1')),
    accessKeyId: optStr(where('offline.s3.accessKeyId'), pick('GRANARY_S3_ACCESS_KEY_ID', s3File.accessKeyId, onAws ? null : stack.minio.accessKeyId)),
    secretAccessKey: optStr(
      where('offline.s3.secretAccessKey'),
      pick('GRANARY_S3_SECRET_ACCESS_KEY', s3File.secretAccessKey, onAws ? null : stack.minio.secretAccessKey),
    ),
    forcePathStyle: bool(where('offline.s3.forcePathStyle'), s3File.forcePathStyle ?? !onAws),
    tlsCa: caFile(where('offline.s3.tlsCa'), env.GRANARY_S3_TLS_CA ? process.cwd() : repoDir, pick('GRANARY_S3_TLS_CA', s3File.tlsCa, null)),
  };
  if (s3.tlsCa !== null && !s3.endpoint?.startsWith('https://')) {
    throw new ConfigError(`${where('offline.s3.tlsCa')}: a CA is only used over TLS: offline.s3.endpoint must start with https://, got '${s3.endpoint ?? 'aws'}'`);
  }
  const { url: onlineUrl, clusterNodes } = redisUrl(where('online.url'), pick('GRANARY_REDIS_URL', section('online').url, stack.redis.url));
  const redisCa = caFile(where('online.tlsCa'), env.GRANARY_REDIS_TLS_CA ? process.cwd() : repoDir, pick('GRANARY_REDIS_TLS_CA', section('online').tlsCa, null));
  if (redisCa !== null && !onlineUrl.startsWith('rediss://') && !onlineUrl.startsWith('rediss+cluster://')) {
    throw new ConfigError(maskSecrets(`${where('online.tlsCa')}: a CA is only used over TLS: online.url must start with rediss:// (or rediss+cluster://), got '${onlineUrl}'`));
  }

  const sentinelSetting = pick('GRANARY_REDIS_SENTINELS', section('online').sentinels, []);
  if (clusterNodes.length > 0 && (typeof sentinelSetting === 'string' ? sentinelSetting.trim() !== '' : Array.isArray(sentinelSetting) && sentinelSetting.length > 0)) {
    throw new ConfigError(`${where('online.sentinels')}: a Redis Cluster (online.url ${maskSecrets(onlineUrl)}) has no sentinels; set one or the other`);
  }

  return Object.freeze({
    project,
    repoDir,
    registry: { url: url(where('registry.url'), pick('GRANARY_POSTGRES_URL', section('registry').url, stack.postgres.url), ['postgres:', 'postgresql:']) },
    online: {
      url: onlineUrl,
      clusterNodes,
      keyPrefix: str(where('online.keyPrefix'), pick('GRANARY_REDIS_KEY_PREFIX', section('online').keyPrefix, 'granary')),
      onRedisLoss: oneOf(where('online.onRedisLoss'), pick('GRANARY_ON_REDIS_LOSS', section('online').onRedisLoss, 'rebuild'), ['rebuild', 'fail'] as const),
      sentinels: hostPortList(where('online.sentinels'), pick('GRANARY_REDIS_SENTINELS', section('online').sentinels, [])),
      sentinelMaster: str(where('online.sentinelMaster'), pick('GRANARY_REDIS_SENTINEL_MASTER', section('online').sentinelMaster, 'granary')),
      tlsCa: redisCa,
    },
    offline: parseOffline(where('offline.url'), offlineUrl, offlineBase, s3),
    ingest: { maxFutureSkewMs: skewMs(where('ingest.maxFutureSkew'), pick('GRANARY_MAX_FUTURE_SKEW', section('ingest').maxFutureSkew, '1h')) },
    temporal: {
      address: hostPort(where('temporal.address'), pick('GRANARY_TEMPORAL_ADDRESS', section('temporal').address, stack.temporal.address)),
      namespace: str(where('temporal.namespace'), pick('GRANARY_TEMPORAL_NAMESPACE', section('temporal').namespace, stack.temporal.namespace)),
      taskQueue: str(where('temporal.taskQueue'), pick('GRANARY_TASK_QUEUE', section('temporal').taskQueue, 'granary')),
      workerTimeoutSeconds: int(
        where('temporal.workerTimeoutSeconds'),
        pick('GRANARY_WORKER_TIMEOUT', section('temporal').workerTimeoutSeconds, DEFAULT_WORKER_TIMEOUT_SECONDS),
        1,
        31_536_000,
      ),
    },
    serving: {
      host: str(where('serving.host'), pick('GRANARY_SERVING_HOST', section('serving').host, '127.0.0.1')),
      port: int(where('serving.port'), pick('GRANARY_SERVING_PORT', section('serving').port, 6566), 0, 65535),
      maxEntities: int(where('serving.maxEntities'), pick('GRANARY_SERVING_MAX_ENTITIES', section('serving').maxEntities, 1000), 1, 1_000_000),
      timeoutMs: int(where('serving.timeoutMs'), pick('GRANARY_SERVING_TIMEOUT_MS', section('serving').timeoutMs, 1000), 1, 600_000),
      healthOnLoss: oneOf(where('serving.healthOnLoss'), pick('GRANARY_SERVING_HEALTH_ON_LOSS', section('serving').healthOnLoss, 'fail'), ['ok', 'fail'] as const),
      auth: oneOf(where('serving.auth'), pick('GRANARY_SERVING_AUTH', section('serving').auth, 'token'), ['token', 'none'] as const),
      token: optStr(where('serving.token'), pick('GRANARY_TOKEN', section('serving').token, null)),
      authFailuresPerSecond: int(where('serving.authFailuresPerSecond'), pick('GRANARY_SERVING_AUTH_FAILURES_PER_SECOND', section('serving').authFailuresPerSecond, 10), 0, 1_000_000),
    },
    monitoring: {
      webhooks: webhookList(where('monitoring.webhooks'), pick('GRANARY_MONITOR_WEBHOOKS', section('monitoring').webhooks, [])),
      skewSampleRate: share(where('monitoring.skewSampleRate'), pick('GRANARY_MONITOR_SKEW_SAMPLE_RATE', section('monitoring').skewSampleRate, 0.01)),
    },
  });
}

function oneOf<T extends string>(where: string, value: unknown, allowed: readonly T[]): T {
  const text = str(where, value);
  if (!(allowed as readonly string[]).includes(text)) throw new ConfigError(`${where}: must be one of ${allowed.join(', ')}, got '${text}'`);
  return text as T;
}

function readConfigFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${file}: must be a mapping of settings`);
  const config = parsed as Record<string, unknown>;
  for (const [key, value] of Object.entries(config)) {
    if (!(key in FILE_SHAPE)) {
      throw new ConfigError(`${file}: unknown setting '${key}' (known: ${Object.keys(FILE_SHAPE).join(', ')})`);
    }
    const fields = FILE_SHAPE[key];
    if (!fields) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(`${file}: setting '${key}' must be a mapping with ${fields.join(', ')}`);
    }
    for (const field of Object.keys(value)) {
      if (!fields.includes(field)) {
        throw new ConfigError(`${file}: unknown setting '${key}.${field}' (known: ${fields.join(', ')})`);
      }
    }
  }
  const s3 = (config.offline as Record<string, unknown> | undefined)?.s3;
  if (s3 !== undefined) {
    if (typeof s3 !== 'object' || s3 === null) throw new ConfigError(`${file}: setting 'offline.s3' must be a mapping`);
    for (const field of Object.keys(s3)) {
      if (!S3_FIELDS.includes(field)) {
        throw new ConfigError(`${file}: unknown setting 'offline.s3.${field}' (known: ${S3_FIELDS.join(', ')})`);
      }
    }
  }
  return config;
}

/** A relative local path is relative to `base`: the repo for granary.yaml, the working directory for the variable. */
function parseOffline(where: string, value: string, base: string, s3: S3Settings): OfflineSettings {
  if (value.startsWith('s3://')) {
    const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*?))?\/?$/.exec(value);
    if (!match) throw new ConfigError(`${where}: '${value}' is not a valid s3://bucket/prefix URL`);
    return { kind: 's3', bucket: match[1]!, prefix: match[2] ?? '', s3 };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ConfigError(`${where}: must be s3://bucket/prefix or a local path, got '${value}'`);
  }
  return { kind: 'local', path: isAbsolute(value) ? value : resolve(base, value) };
}

function variableOf(setting: string): string {
  return Object.entries(CONFIG_VARIABLES).find(([, s]) => s === setting)?.[0] ?? 'no variable';
}

function str(where: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${where}: must be a non-empty string, got ${JSON.stringify(value)}`);
  return value.trim();
}

function optStr(where: string, value: unknown): string | null {
  return value === null || value === undefined ? null : str(where, value);
}

function bool(where: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigError(`${where}: must be true or false, got ${JSON.stringify(value)}`);
}

function int(where: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${where}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A URL setting; its password is masked in every message, whatever the URL's shape (config/mask-secrets.ts). */
function url(where: string, value: unknown, protocols: string[]): string {
  registerUrlPassword(value);
  const text = str(where, value);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(maskSecrets(`${where}: '${text}' is not a URL (expected ${protocols[0]}//host:port/...)`));
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(maskSecrets(`${where}: '${text}' must start with ${protocols.map((p) => `${p}//`).join(' or ')}`));
  }
  return text;
}

/** A CA certificate file (PEM), absolute or relative to `base`; it must exist. null when unset. */
function caFile(where: string, base: string, value: unknown): string | null {
  const text = optStr(where, value);
  if (text === null) return null;
  const path = isAbsolute(text) ? text : resolve(base, text);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${where}: cannot read the CA file '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${where}: '${path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return path;
}

/**
 * `online.url`: a redis:// or rediss:// URL, or a Redis Cluster's seed nodes as
 * `redis+cluster://[user:password@]host:port,host:port` (`rediss+cluster://` with TLS).
 *
 * @example
 *   redisUrl(where, 'redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7000')
 *   // => { url: 'redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7000', clusterNodes: ['10.0.0.1:7000', '10.0.0.2:7000'] }
 */
function redisUrl(where: string, value: unknown): { url: string; clusterNodes: string[] } {
  registerUrlPassword(value);
  const text = str(where, value);
  let cluster: ClusterUrl | undefined;
  try {
    cluster = parseClusterUrl(text);
  } catch (error) {
    throw new ConfigError(maskSecrets(`${where}: '${text}' ${(error as Error).message}`));
  }
  if (!cluster) return { url: url(where, text, ['redis:', 'rediss:']), clusterNodes: [] };
  return { url: text, clusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`) };
}

/** A duration such as '1h', '90s' or '1d' (or seconds), >= 0, in ms. */
function skewMs(where: string, value: unknown): number {
  const seconds = typeof value === 'number' || typeof value === 'string' ? parseDurationSeconds(typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value) : undefined;
  if (seconds === undefined || seconds < 0) throw new ConfigError(`${where}: must be a duration such as '1h', '15m' or '1d', got ${JSON.stringify(value)}`);
  return Math.round(seconds * 1000);
}

/** A list of http(s) URLs, as a YAML list or a comma-separated string (an environment variable). */
function webhookList(where: string, value: unknown): string[] {
  const items = typeof value === 'string' ? value.split(/[\s,]+/).filter((s) => s !== '') : value;
  if (!Array.isArray(items)) throw new ConfigError(`${where}: must be a list of http(s) URLs (or url,url), got ${JSON.stringify(value)}`);
  return items.map((item, i) => url(`${where}, item ${i + 1}`, item, ['http:', 'https:']));
}

/** A share from 0 to 1. */
function share(where: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(`${where}: must be a number from 0 to 1, got ${JSON.stringify(value)}`);
  return n;
}

/** A list of host:port, as a YAML list or a comma-separated string (an environment variable). */
function hostPortList(where: string, value: unknown): string[] {
  const items = typeof value === 'string' ? value.split(',').filter((s) => s.trim() !== '') : value;
  if (!Array.isArray(items)) throw new ConfigError(`${where}: must be a list of host:port (or host:port,host:port), got ${JSON.stringify(value)}`);
  return items.map((item, i) => hostPort(`${where}, item ${i + 1}`, item));
}

function hostPort(where: string, value: unknown): string {
  const text = str(where, value);
  if (!/^[^\s:/]+:\d{1,5}$/.test(text)) throw new ConfigError(`${where}: must be host:port, got '${text}'`);
  return text;
}
