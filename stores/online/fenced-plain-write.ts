import { MARKER_APPLIED_FIELD } from './key-layout.ts';
import { RespConnection, RespErrorReply, RespWriter, type RespEndpoint, type RespReply } from './resp-connection.ts';

/**
 * The rows of one plain write, encoded as they are added: a row whose expiry is past by this
 * process's clock as `DEL key`, any other as `SET key row PXAT expireAt GET`.
 *
 * @example
 *   const rows = new PlainRows(Date.now());
 *   rows.put('granary:shop:user_stats:v1:g2:{...0}u1', packed, 0, packed.length, expireAt);
 */
export class PlainRows {
  readonly writer: RespWriter;
  /** Per row, in order: true for a DEL (expired), false for a SET. */
  private readonly deletes: boolean[] = [];
  private sets = 0;

  constructor(
    private readonly nowMs: number,
    expectedBytes = 64 * 1024,
  ) {
    this.writer = new RespWriter(expectedBytes);
  }

  /** Adds the row `bytes[start, end)` of `key`, expiring at `expireAt` (ms since epoch). */
  put(key: string, bytes: Buffer, start: number, end: number, expireAt: number): void {
    if (expireAt <= this.nowMs) {
      this.writer.command('DEL', key);
      this.deletes.push(true);
    } else {
      this.writer.setPxatGet(key, bytes, start, end, expireAt);
      this.deletes.push(false);
      this.sets++;
    }
  }

  get rows(): number {
    return this.deletes.length;
  }

  get setCount(): number {
    return this.sets;
  }

  isDelete(row: number): boolean {
    return this.deletes[row]!;
  }
}

/**
 * What a plain write did:
 * - `{ written, expired }`: the rows' counts when it wrote them;
 * - 'closed': the fence was closed (the marker gone, or an applied commit recorded);
 * - 'touched': the marker changed between the fence read and EXEC;
 * - 'refused': Redis refused a row inside the transaction (a key of another type: SET ... GET
 *   does not replace it), the other rows written and counted.
 * Nothing is written plainly in the first two cases; in all three the caller writes the rows
 * through the fenced script (PACKED_FRESH_WRITE_*), which decides again inside Redis.
 */
export type PlainWriteOutcome = { readonly written: number; readonly expired: number } | 'closed' | 'touched' | 'refused';

/** Where a plain write's fence and count live. */
export interface PlainFence {
  /** The generation's marker hash: the fence, WATCHed. */
  readonly marker: string;
  /** The string key counting the row keys the plain writes created (key-layout.ts plainCountKey). */
  readonly countKey: string;
}

/**
 * The rebuild's write into the generation it builds, without a script: Redis' optimistic lock
 * on the fence, on a connection of its own (standalone and Sentinel; a Cluster keeps the script).
 *
 *   WATCH marker; EXISTS marker; HGET marker applied                  one round trip: the fence read
 *   MULTI; INCRBY count <sets>; SET key row PXAT expireAt GET ...; EXEC   one round trip: every row, or none
 *   DECRBY count <keys not created>                                   only when some existed or were deleted
 *
 * The fence is the one of the scripts (packed-write-many.lua.ts fenceOpen): open while the
 * generation's marker exists and records no applied commit (nobody else writes the generation
 * before markRebuiltUpTo records the build's commits there). WATCH makes EXEC write nothing if
 * anything touched the marker after the read (a seal, a drop, a FLUSHALL, a new field), so the
 * rows are put only if the fence was open at the instant EXEC ran, which is the script's
 * guarantee: an older row never overwrites a newer one, and a zombie attempt after the seal rolls
 * nothing back. The count of the generation's row keys stays an upper bound at every instant:
 * the transaction adds every SET before Redis runs them, and the correction after EXEC takes back
 * the keys that already existed (SET ... GET answered a value) and those a DEL removed; a process
 * killed in between leaves an overcount, which makes finishVerify count by SCAN. The marker's own
 * count (its `rows` field) is not touched here, since writing the marker would abort every other
 * chunk's WATCH. A row already past its expiry by this process's clock is deleted instead, as the
 * script does by Redis' clock (a past PXAT that this clock missed is dropped by Redis itself, and
 * counted written here).
 *
 * `afterFenceRead` runs between the two round trips (tests touch the marker there).
 *
 * @example
 *   await writePlainBehindFence(connection, { marker, countKey }, rows, undefined)
 *   // => { written: 1000, expired: 0 }   or 'closed' / 'touched' / 'refused'
 */
export async function writePlainBehindFence(
  connection: RespConnection,
  fence: PlainFence,
  rows: PlainRows,
  afterFenceRead: (() => Promise<void>) | undefined,
): Promise<PlainWriteOutcome> {
  const read = new RespWriter(256).command('WATCH', fence.marker).command('EXISTS', fence.marker).command('HGET', fence.marker, MARKER_APPLIED_FIELD);
  const fenceRead = await connection.send(read.toBuffer(), 3);
  failOnError(...fenceRead);
  const [, exists, applied] = fenceRead;
  const appliedSeq = applied === null ? 0 : Number((applied as Buffer).toString('latin1'));
  if (exists !== 1 || appliedSeq !== 0) {
    failOnError(...(await connection.send(new RespWriter(32).command('UNWATCH').toBuffer(), 1)));
    return 'closed';
  }
  if (afterFenceRead) await afterFenceRead();
  const head = new RespWriter(256).command('MULTI').command('INCRBY', fence.countKey, String(rows.setCount));
  const tail = new RespWriter(32).command('EXEC');
  const replies = await connection.send([head.toBuffer(), rows.writer.toBuffer(), tail.toBuffer()], rows.rows + 3);
  const exec = replies[replies.length - 1]!;
  failOnError(...replies.slice(0, -1), exec);
  if (exec === null) return 'touched';
  if (!Array.isArray(exec) || exec.length !== rows.rows + 1) throw new Error(`EXEC answered ${describe(exec)} for ${rows.rows} rows`);
  failOnError(exec[0]!);
  let takeBack = 0;
  let refused = 0;
  for (let r = 0; r < rows.rows; r++) {
    const reply = exec[r + 1]!;
    if (reply instanceof RespErrorReply) {
      if (!/^WRONGTYPE/.test(reply.message)) throw new Error(reply.message);
      refused++;
      takeBack++; // not written: counted by the INCRBY, not created
    } else if (rows.isDelete(r)) takeBack += reply as number; // a key deleted
    else if (reply !== null) takeBack++; // a key that existed: SET replaced it
  }
  if (takeBack > 0) failOnError(...(await connection.send(new RespWriter(128).command('DECRBY', fence.countKey, String(takeBack)).toBuffer(), 1)));
  if (refused > 0) return 'refused';
  return { written: rows.setCount, expired: rows.rows - rows.setCount };
}

function failOnError(...replies: RespReply[]): void {
  for (const reply of replies) if (reply instanceof RespErrorReply) throw new Error(reply.message);
}

function describe(reply: RespReply): string {
  return Array.isArray(reply) ? `${reply.length} replies` : String(reply);
}

/**
 * The plain write's connections (RespConnection), opened on demand and kept for the next chunk
 * (at most `maxIdle` idle ones). A connection that failed, or outlived its deadline, is closed
 * and never reused, so no WATCH or MULTI state can leak into another chunk; so are the idle ones
 * then, and whenever the endpoint changed (a Sentinel failover: the client now talks to another
 * master), so a chunk never goes to a demoted master.
 */
export class PlainWriteConnections {
  private idle: { readonly address: string; readonly connection: RespConnection }[] = [];
  private closed = false;

  constructor(
    private readonly endpoint: () => Promise<RespEndpoint>,
    private readonly maxIdle: number,
  ) {}

  /** Runs `work` on a connection of its own; fails after `deadlineMs` (0: none), closing the connection. */
  async use<T>(work: (connection: RespConnection) => Promise<T>, deadlineMs: number): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    const endpoint = await this.endpoint();
    const address = `${endpoint.host}:${endpoint.port}`;
    if (this.idle.some((c) => c.address !== address)) this.dropIdle();
    const connection = this.idle.pop()?.connection ?? (await RespConnection.open(endpoint));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      if (deadlineMs > 0) {
        timer = setTimeout(() => {
          connection.close();
          reject(new Error(`no reply within ${deadlineMs} ms (commandTimeoutMs)`));
        }, deadlineMs);
      }
    });
    try {
      const result = await Promise.race([work(connection), deadline]);
      if (!connection.isBroken && !this.closed && this.idle.length < this.maxIdle) this.idle.push({ address, connection });
      else connection.close();
      return result;
    } catch (error) {
      connection.close();
      this.dropIdle();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    this.dropIdle();
  }

  private dropIdle(): void {
    for (const { connection } of this.idle.splice(0)) connection.close();
  }
}
