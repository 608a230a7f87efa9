import net from 'node:net';
import tls from 'node:tls';

/** Where a RespConnection connects, and as whom (the ioredis client's resolved options). */
export interface RespEndpoint {
  readonly host: string;
  readonly port: number;
  /** TLS options (rediss://): the connection is then a TLS socket. */
  readonly tls?: tls.ConnectionOptions;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  readonly connectTimeoutMs: number;
}

/** A RESP error reply (`-ERR ...`), as a value: a command failing is not a broken connection. */
export class RespErrorReply {
  constructor(readonly message: string) {}
}

/** A reply: simple string, integer, bulk string (null when nil), array (null when nil) or an error. */
export type RespReply = string | number | Buffer | null | RespErrorReply | RespReply[];

interface Pending {
  readonly replies: RespReply[];
  readonly count: number;
  resolve(replies: RespReply[]): void;
  reject(error: Error): void;
}

const CRLF = 0x0d;

/**
 * One dedicated Redis connection speaking RESP2 directly: the caller sends commands already
 * encoded (RespWriter) and gets back the replies it said to expect, in order. It exists for the
 * rebuild's plain write (fenced-plain-write.ts), whose WATCH / MULTI / EXEC must own a connection
 * and whose thousand SETs per EXEC cost ioredis ~5 us of client CPU each (a Command, a promise
 * and a reply object per SET; measured in docs/plans/write-paths-at-scale.md §15) where writing
 * them into one buffer costs well under 1 us. Anything unexpected (a socket error, a close, a
 * reply that does not parse) breaks the connection: every pending and later send rejects, and the
 * owner drops it.
 *
 * @example
 *   const connection = await RespConnection.open({ host: '127.0.0.1', port: 16379, connectTimeoutMs: 2000 });
 *   await connection.send(new RespWriter().command('PING').toBuffer(), 1) // => ['PONG']
 */
export class RespConnection {
  private readonly socket: net.Socket;
  private readonly pending: Pending[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private broken: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (error) => this.break(error));
    socket.on('close', () => this.break(new Error('connection closed')));
  }

  /** Connects, then AUTH and SELECT as the endpoint says; rejects after `connectTimeoutMs`. */
  static async open(endpoint: RespEndpoint): Promise<RespConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const options = { host: endpoint.host, port: endpoint.port };
      const s = endpoint.tls ? tls.connect({ ...endpoint.tls, ...options }) : net.connect(options);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no connection to ${endpoint.host}:${endpoint.port} within ${endpoint.connectTimeoutMs} ms`));
      }, endpoint.connectTimeoutMs);
      s.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const connection = new RespConnection(socket);
    try {
      const hello = new RespWriter();
      let replies = 0;
      if (endpoint.password) {
        if (endpoint.username) hello.command('AUTH', endpoint.username, endpoint.password);
        else hello.command('AUTH', endpoint.password);
        replies++;
      }
      if (endpoint.db) {
        hello.command('SELECT', String(endpoint.db));
        replies++;
      }
      if (replies > 0) {
        for (const reply of await connection.send(hello.toBuffer(), replies)) {
          if (reply instanceof RespErrorReply) throw new Error(reply.message);
        }
      }
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** True once the connection broke (or was closed): it answers nothing more. */
  get isBroken(): boolean {
    return this.broken !== undefined;
  }

  /** Writes `payload` (RESP commands, in one buffer or several in order) and resolves with the next `replies` replies. */
  send(payload: Buffer | readonly Buffer[], replies: number): Promise<RespReply[]> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.pending.push({ replies: [], count: replies, resolve, reject });
      if (Buffer.isBuffer(payload)) this.socket.write(payload);
      else {
        this.socket.cork();
        for (const part of payload) this.socket.write(part);
        this.socket.uncork();
      }
    });
  }

  close(): void {
    this.break(new Error('connection closed by its owner'));
  }

  private break(error: Error): void {
    if (!this.broken) this.broken = error;
    this.socket.destroy();
    for (const p of this.pending.splice(0)) p.reject(this.broken);
  }

  private received(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let at = 0;
    try {
      while (at < this.buffered.length) {
        const parsed = parseReply(this.buffered, at);
        if (!parsed) break;
        at = parsed.next;
        const head = this.pending[0];
        if (!head) throw new Error('a reply nobody asked for');
        head.replies.push(parsed.reply);
        if (head.replies.length === head.count) {
          this.pending.shift();
          head.resolve(head.replies);
        }
      }
    } catch (error) {
      this.break(error as Error);
      return;
    }
    this.buffered = at === this.buffered.length ? Buffer.alloc(0) : this.buffered.subarray(at);
  }
}

/** The reply at `at` and where the next one starts, or undefined when it is not all here yet. */
function parseReply(buffer: Buffer, at: number): { reply: RespReply; next: number } | undefined {
  const end = buffer.indexOf(CRLF, at);
  if (end < 0 || end + 1 >= buffer.length) return undefined;
  const type = buffer[at];
  const line = buffer.toString('latin1', at + 1, end);
  const next = end + 2;
  switch (type) {
    case 0x2b: // +
      return { reply: line, next };
    case 0x2d: // -
      return { reply: new RespErrorReply(buffer.toString('utf8', at + 1, end)), next };
    case 0x3a: // :
      return { reply: Number(line), next };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { reply: null, next };
      if (next + length + 2 > buffer.length) return undefined;
      return { reply: buffer.subarray(next, next + length), next: next + length + 2 };
    }
    case 0x2a: {
      // *
      const length = Number(line);
      if (length < 0) return { reply: null, next };
      const items = new Array<RespReply>(length);
      let from = next;
      for (let i = 0; i < length; i++) {
        const item = parseReply(buffer, from);
        if (!item) return undefined;
        items[i] = item.reply;
        from = item.next;
      }
      return { reply: items, next: from };
    }
    default:
      throw new Error(`not a RESP reply (byte ${type} at ${at})`);
  }
}

/**
 * Commands encoded as RESP arrays of bulk strings into one growing buffer: no object per command.
 *
 * @example
 *   new RespWriter().command('SET', 'k', Buffer.from('v'), 'PXAT', '1700000000000').toBuffer()
 *   // => <Buffer '*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n1700000000000\r\n'>
 */
export class RespWriter {
  private buffer: Buffer;
  private at = 0;

  constructor(initialBytes = 4096) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  command(...args: (string | Buffer)[]): this {
    this.ascii(`*${args.length}\r\n`);
    for (const arg of args) this.bulk(arg);
    return this;
  }

  /**
   * `SET key value PXAT expireAt GET`, the plain write of one packed row (`value` the bytes
   * [start, end) of `bytes`); its reply is the value it replaced, nil when it created the key.
   * Four writes into the buffer per row (the profile of a 2M-row build: a write per RESP token
   * cost ~1.1 us per row).
   */
  setPxatGet(key: string, bytes: Buffer, start: number, end: number, expireAt: number): this {
    const length = end - start;
    const expiry = String(expireAt);
    this.reserve(3 * key.length + length + expiry.length + 80);
    const buffer = this.buffer;
    // The key's length, assumed to be its UTF-16 length (ASCII keys); written again if it is not.
    const head = this.at;
    this.at += buffer.write(`*6\r\n$3\r\nSET\r\n$${key.length}\r\n`, this.at, 'latin1');
    const keyBytes = buffer.write(key, this.at, 'utf8');
    if (keyBytes !== key.length) {
      this.at = head;
      this.at += buffer.write(`*6\r\n$3\r\nSET\r\n$${keyBytes}\r\n`, this.at, 'latin1');
      this.at += buffer.write(key, this.at, 'utf8');
    } else this.at += keyBytes;
    this.at += buffer.write(`\r\n$${length}\r\n`, this.at, 'latin1');
    this.at += bytes.copy(buffer, this.at, start, end);
    this.at += buffer.write(`\r\n$4\r\nPXAT\r\n$${expiry.length}\r\n${expiry}\r\n$3\r\nGET\r\n`, this.at, 'latin1');
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.at);
  }

  private bulk(arg: string | Buffer): void {
    if (typeof arg === 'string') {
      const length = Buffer.byteLength(arg);
      this.ascii(`$${length}\r\n`);
      this.reserve(length + 2);
      this.at += this.buffer.write(arg, this.at, 'utf8');
    } else {
      this.ascii(`$${arg.length}\r\n`);
      this.reserve(arg.length + 2);
      this.buffer.set(arg, this.at);
      this.at += arg.length;
    }
    this.ascii('\r\n');
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    this.at += this.buffer.write(text, this.at, 'latin1');
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }
}
