/**
 * How each service is known to answer, and made ready for Granary, over bare protocols so that
 * `status` stays fast: a TCP connect, a Redis PING on a socket, PostgreSQL's `SELECT 1` (then the
 * `granary` database), MinIO's bucket, Temporal's DescribeNamespace as one raw gRPC call.
 *
 * @example
 *   await redisCommand('127.0.0.1', 16379, ['PING']) // => '+PONG'
 *   await temporalAnswers(localStack())              // => true once its namespace is served
 */
import http2 from 'node:http2';
import { connect } from 'node:net';
import type { LocalStack } from '../../config/local-stack.ts';
import type { Instance } from './instance.ts';
import { sleep } from './process-control.ts';
import { messageOf, StackError } from './stack-error.ts';

/** Whether something accepts a TCP connection on the port. */
export function tcpAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** One Redis command over a bare socket; returns the first line of the reply (`+PONG`). */
export function redisCommand(host: string, port: number, words: readonly string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from Redis at ${host}:${port}`)));
    socket.once('connect', () => socket.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection to ${host}:${port} closed without a reply`)));
  });
}

/** A parsed Redis reply: a simple or bulk string, an integer, nil, or an array of them. */
export type RedisReply = string | number | null | RedisReply[];

/**
 * One Redis command over a bare socket, its whole reply parsed (RESP2); an error reply rejects
 * with its message. For the multi-line replies the topologies read (CLUSTER INFO, SENTINEL ...).
 *
 * @example
 *   await redisReply('127.0.0.1', 17010, ['SENTINEL', 'get-master-addr-by-name', 'granary']) // => ['127.0.0.1', '17010']
 */
export function redisReply(host: string, port: number, words: readonly string[], timeoutMs = 2000): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from Redis at ${host}:${port}`)));
    socket.once('connect', () => socket.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseReply(buffer, 0);
      if (parsed === undefined) return; // incomplete
      socket.destroy();
      if (parsed.error !== undefined) reject(new Error(parsed.error));
      else resolve(parsed.value);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection to ${host}:${port} closed without a reply`)));
  });
}

interface Parsed {
  readonly value: RedisReply;
  readonly end: number;
  readonly error?: string;
}

/** Parses one RESP2 reply at `at`; undefined while it is incomplete. */
function parseReply(buffer: Buffer, at: number): Parsed | undefined {
  const eol = buffer.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buffer.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buffer[at]!)) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: null, end: next, error: line };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RedisReply[] = [];
      let end = next;
      let error: string | undefined;
      for (let n = 0; n < count; n++) {
        const item = parseReply(buffer, end);
        if (item === undefined) return undefined;
        items.push(item.value);
        error ??= item.error;
        end = item.end;
      }
      return { value: items, end, error };
    }
    default:
      return { value: null, end: buffer.length, error: `not a Redis reply: ${JSON.stringify(line.slice(0, 40))}` };
  }
}

type PgClient = import('pg').Client;

/** Runs `fn` with a client of the instance's PostgreSQL (user postgres, no password), then closes it. */
export async function withPostgres<T>(i: Instance, database: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ host: i.stack.host, port: i.stack.postgres.port, user: 'postgres', database, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates the stack's database (`granary`) unless it exists. */
export async function ensureDatabase(i: Instance): Promise<void> {
  const name = i.stack.postgres.database;
  await withPostgres(i, 'postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile
      });
    }
  }).catch((error: unknown) => {
    if (error instanceof StackError) throw error;
    throw new StackError(`cannot create database '${name}' on ${i.stack.postgres.url}: ${messageOf(error)}`);
  });
}

/** Creates the stack's bucket unless it exists, waiting (30 s) for MinIO to serve requests. */
export async function ensureBucket(stack: LocalStack): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 is this project's floor, on purpose
  const { S3Client, HeadBucketCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const { endpoint, accessKeyId, secretAccessKey, bucket } = stack.minio;
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) {
          await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((e: { name?: string }) => {
            if (e.name !== 'BucketAlreadyOwnedByYou') throw e;
          });
          return;
        }
        if (Date.now() > deadline) {
          throw new StackError(`cannot reach bucket '${bucket}' at ${endpoint} with the local-stack credentials: ${messageOf(error)}${status ? ` (HTTP ${status})` : ''}`);
        }
        await sleep(500); // MinIO answers /health/live a moment before it serves requests
      }
    }
  } finally {
    s3.destroy();
  }
}

/**
 * Temporal answers when its frontend serves DescribeNamespace for the stack's namespace: one
 * raw gRPC call over node:http2 (the SDK's client takes half a second just to import).
 */
export async function temporalAnswers(stack: LocalStack): Promise<boolean> {
  if (!(await tcpAnswers(stack.host, stack.temporal.port))) return false;
  const name = Buffer.from(stack.temporal.namespace);
  const request = Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]); // field 1: namespace
  const status = await grpcStatus(stack.temporal.address, '/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace', request).catch(() => null);
  return status === '0';
}

/** The grpc-status of one unary call (`'0'` is OK). */
function grpcStatus(address: string, path: string, message: Buffer, timeoutMs = 3000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    const fail = (error: Error): void => {
      session.destroy();
      reject(error);
    };
    session.once('error', fail);
    session.setTimeout(timeoutMs, () => fail(new Error(`no gRPC answer from ${address}`)));
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(message.length, 1);
    const call = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | null = null;
    call.once('response', (headers) => (status = (headers['grpc-status'] as string | undefined) ?? status)); // trailers-only reply
    call.once('trailers', (trailers) => (status = (trailers['grpc-status'] as string | undefined) ?? status));
    call.on('data', () => {});
    call.once('error', fail);
    call.once('close', () => {
      session.close();
      resolve(status);
    });
    call.end(Buffer.concat([frame, message]));
  });
}

/** A protobuf varint (the length of a field). */
function varint(value: number): Buffer {
  const bytes: number[] = [];
  for (; value > 0x7f; value >>>= 7) bytes.push((value & 0x7f) | 0x80);
  bytes.push(value);
  return Buffer.from(bytes);
}

