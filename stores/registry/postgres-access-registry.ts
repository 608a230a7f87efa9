import {
  AccessError,
  type AccessEvent,
  type AccessRegistry,
  type AccessSnapshot,
  type Consumer,
  type Grant,
  type GrantInput,
  type RestrictedReadCount,
  type StoredToken,
  type TokenHash,
  grantTarget,
} from './access-registry.ts';
import type { Queryable } from './object-queries.ts';
import { PostgresPool } from './postgres-pool.ts';
import { migrateSchema } from './schema-migrations.ts';
import { withTransaction } from './with-transaction.ts';

/**
 * The access-control tables of the registry (schema step 5), behind AccessRegistry. A pool of its
 * own (2 connections by default), so the feature server's access refresh never waits behind
 * definition reads. Every change writes its history row in the same transaction: the history's
 * newest id is the version servers poll (`accessVersion`, one indexed query a second).
 *
 * @example
 *   const access = new PostgresAccessRegistry({ url: config.registry.url });
 *   await access.migrate();
 *   await access.grants({ project: 'fraud' }) // => [{ consumer: 'fraud_model', kind: 'service', name: 'fraud_model_v1', ... }]
 *   await access.close();
 */
export class PostgresAccessRegistry extends PostgresPool implements AccessRegistry {
  constructor(private readonly options: { readonly url: string; readonly maxConnections?: number }) {
    super(options.url, { maxConnections: options.maxConnections ?? 2, applicationName: 'granary-access' });
  }

  async migrate(): Promise<void> {
    await this.run(() => migrateSchema(this.pool));
  }

  createConsumer(input: { name: string; project: string; description: string; token: TokenHash; actor: string }): Promise<Consumer> {
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        const { rows } = await client.query<ConsumerRow>(
          `INSERT INTO granary_consumers (name, project, description) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING ${CONSUMER_COLUMNS}`,
          [input.name, input.project, input.description],
        );
        if (!rows[0]) throw new AccessError(`consumer '${input.name}' exists already (granary access consumer rotate ${input.name} gives it a new token)`);
        await insertToken(client, input.name, input.token, null);
        await insertEvent(client, { project: input.project, consumer: input.name, action: 'create-consumer', actor: input.actor, detail: input.description });
        return toConsumer(rows[0]);
      }),
    );
  }

  rotateToken(input: { name: string; project: string; token: TokenHash; graceMs: number; actor: string }): Promise<number> {
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        await liveConsumer(client, input.name);
        const expiring = await client.query(
          `UPDATE granary_consumer_tokens SET expires_at = now() + make_interval(secs => $2::double precision / 1000)
           WHERE consumer = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now() + make_interval(secs => $2::double precision / 1000))`,
          [input.name, input.graceMs],
        );
        await insertToken(client, input.name, input.token, null);
        await insertEvent(client, { project: input.project, consumer: input.name, action: 'rotate-token', actor: input.actor, detail: `previous tokens valid for ${input.graceMs} ms more` });
        return expiring.rowCount ?? 0;
      }),
    );
  }

  revokeConsumer(input: { name: string; project: string; actor: string }): Promise<void> {
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        await liveConsumer(client, input.name);
        await client.query('UPDATE granary_consumers SET revoked_at = now() WHERE name = $1', [input.name]);
        await client.query('UPDATE granary_consumer_tokens SET revoked_at = now() WHERE consumer = $1 AND revoked_at IS NULL', [input.name]);
        await insertEvent(client, { project: input.project, consumer: input.name, action: 'revoke-consumer', actor: input.actor });
      }),
    );
  }

  grant(grant: GrantInput, actor: string): Promise<Grant> {
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        await liveConsumer(client, grant.consumer);
        const { rows } = await client.query<GrantRow>(
          `INSERT INTO granary_grants (project, consumer, kind, name, feature, approved_by) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (project, consumer, kind, name, feature) DO UPDATE SET approved_by = EXCLUDED.approved_by, granted_at = now()
           RETURNING ${GRANT_COLUMNS}`,
          [grant.project, grant.consumer, grant.kind, grant.name, grant.feature ?? '', grant.approvedBy],
        );
        await insertEvent(client, { project: grant.project, consumer: grant.consumer, action: 'grant', target: grantTarget(grant), approvedBy: grant.approvedBy, actor });
        return toGrant(rows[0]!);
      }),
    );
  }

  revokeGrant(grant: Omit<GrantInput, 'approvedBy'>, actor: string): Promise<boolean> {
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        const { rowCount } = await client.query('DELETE FROM granary_grants WHERE project = $1 AND consumer = $2 AND kind = $3 AND name = $4 AND feature = $5', [
          grant.project,
          grant.consumer,
          grant.kind,
          grant.name,
          grant.feature ?? '',
        ]);
        if (!rowCount) return false;
        await insertEvent(client, { project: grant.project, consumer: grant.consumer, action: 'revoke-grant', target: grantTarget(grant), actor });
        return true;
      }),
    );
  }

  async consumer(name: string): Promise<Consumer | undefined> {
    const { rows } = await this.run(() => this.pool.query<ConsumerRow>(`SELECT ${CONSUMER_COLUMNS} FROM granary_consumers WHERE name = $1`, [name]));
    return rows[0] && toConsumer(rows[0]);
  }

  async consumers(): Promise<Consumer[]> {
    const { rows } = await this.run(() => this.pool.query<ConsumerRow>(`SELECT ${CONSUMER_COLUMNS} FROM granary_consumers ORDER BY name`));
    return rows.map(toConsumer);
  }

  async grants(filter: { readonly project?: string; readonly consumer?: string } = {}): Promise<Grant[]> {
    const { rows } = await this.run(() =>
      this.pool.query<GrantRow>(
        `SELECT ${GRANT_COLUMNS} FROM granary_grants WHERE ($1::text IS NULL OR project = $1) AND ($2::text IS NULL OR consumer = $2)
         ORDER BY project, consumer, kind, name, feature`,
        [filter.project ?? null, filter.consumer ?? null],
      ),
    );
    return rows.map(toGrant);
  }

  async history(filter: { readonly project?: string; readonly consumer?: string } = {}): Promise<AccessEvent[]> {
    const { rows } = await this.run(() =>
      this.pool.query<EventRow>(
        `SELECT id, project, consumer, action, target, approved_by, actor, detail, at FROM granary_access_history
         WHERE ($1::text IS NULL OR project = $1) AND ($2::text IS NULL OR consumer = $2) ORDER BY id`,
        [filter.project ?? null, filter.consumer ?? null],
      ),
    );
    return rows.map((r) => ({ id: Number(r.id), project: r.project, consumer: r.consumer, action: r.action, target: r.target, approvedBy: r.approved_by, actor: r.actor, detail: r.detail, at: r.at }));
  }

  async accessVersion(): Promise<number> {
    const { rows } = await this.run(() => this.pool.query<{ id: string | null }>('SELECT max(id) AS id FROM granary_access_history'));
    return Number(rows[0]?.id ?? 0);
  }

  snapshot(project: string): Promise<AccessSnapshot> {
    // One repeatable-read transaction: the version, tokens and grants are of the same moment.
    return this.run(() =>
      withTransaction(this.pool, async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const version = await client.query<{ id: string | null }>('SELECT max(id) AS id FROM granary_access_history');
        const consumers = await client.query<ConsumerRow>(`SELECT ${CONSUMER_COLUMNS} FROM granary_consumers`);
        const tokens = await client.query<TokenRow>(
          'SELECT token_id, consumer, salt, hash, created_at, expires_at, revoked_at FROM granary_consumer_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())',
        );
        const grants = await client.query<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM granary_grants WHERE project = $1`, [project]);
        return {
          version: Number(version.rows[0]?.id ?? 0),
          consumers: consumers.rows.map(toConsumer),
          tokens: tokens.rows.map(toToken),
          grants: grants.rows.map(toGrant),
        };
      }),
    );
  }

  async recordRestrictedReads(counts: readonly RestrictedReadCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.run(() =>
      this.pool.query(
        `INSERT INTO granary_restricted_reads (project, consumer, read, bucket, count)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
         ON CONFLICT (project, consumer, read, bucket) DO UPDATE SET count = granary_restricted_reads.count + EXCLUDED.count`,
        [counts.map((c) => c.project), counts.map((c) => c.consumer), counts.map((c) => c.read), counts.map((c) => c.bucket), counts.map((c) => c.count)],
      ),
    );
  }

  async restrictedReads(filter: { readonly project?: string; readonly consumer?: string } = {}): Promise<RestrictedReadCount[]> {
    const { rows } = await this.run(() =>
      this.pool.query<{ project: string; consumer: string; read: string; bucket: Date; count: string }>(
        `SELECT project, consumer, read, bucket, count FROM granary_restricted_reads
         WHERE ($1::text IS NULL OR project = $1) AND ($2::text IS NULL OR consumer = $2) ORDER BY bucket, consumer, read`,
        [filter.project ?? null, filter.consumer ?? null],
      ),
    );
    return rows.map((r) => ({ project: r.project, consumer: r.consumer, read: r.read, bucket: r.bucket, count: Number(r.count) }));
  }

}

interface ConsumerRow {
  name: string;
  project: string;
  description: string;
  created_at: Date;
  revoked_at: Date | null;
}
interface TokenRow {
  token_id: string;
  consumer: string;
  salt: Buffer;
  hash: Buffer;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}
interface GrantRow {
  project: string;
  consumer: string;
  kind: Grant['kind'];
  name: string;
  feature: string;
  approved_by: string | null;
  granted_at: Date;
}
interface EventRow {
  id: string;
  project: string;
  consumer: string;
  action: AccessEvent['action'];
  target: string;
  approved_by: string | null;
  actor: string;
  detail: string;
  at: Date;
}

const CONSUMER_COLUMNS = 'name, project, description, created_at, revoked_at';
const GRANT_COLUMNS = 'project, consumer, kind, name, feature, approved_by, granted_at';

async function liveConsumer(db: Queryable, name: string): Promise<void> {
  const { rows } = await db.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM granary_consumers WHERE name = $1 FOR UPDATE', [name]);
  if (!rows[0]) throw new AccessError(`no consumer '${name}' (granary access consumer create ${name})`);
  if (rows[0].revoked_at) throw new AccessError(`consumer '${name}' was revoked at ${rows[0].revoked_at.toISOString()}; create a new consumer`);
}

async function insertToken(db: Queryable, consumer: string, token: TokenHash, expiresAt: Date | null): Promise<void> {
  await db.query('INSERT INTO granary_consumer_tokens (token_id, consumer, salt, hash, expires_at) VALUES ($1, $2, $3, $4, $5)', [
    token.tokenId,
    consumer,
    token.salt,
    token.hash,
    expiresAt,
  ]);
}

async function insertEvent(
  db: Queryable,
  event: { project: string; consumer: string; action: AccessEvent['action']; target?: string; approvedBy?: string | null; actor: string; detail?: string },
): Promise<void> {
  await db.query('INSERT INTO granary_access_history (project, consumer, action, target, approved_by, actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    event.project,
    event.consumer,
    event.action,
    event.target ?? '',
    event.approvedBy ?? null,
    event.actor,
    event.detail ?? '',
  ]);
}

function toConsumer(row: ConsumerRow): Consumer {
  return { name: row.name, project: row.project, description: row.description, createdAt: row.created_at, revokedAt: row.revoked_at };
}

function toToken(row: TokenRow): StoredToken {
  return { tokenId: row.token_id, consumer: row.consumer, salt: row.salt, hash: row.hash, createdAt: row.created_at, expiresAt: row.expires_at, revokedAt: row.revoked_at };
}

function toGrant(row: GrantRow): Grant {
  return {
    project: row.project,
    consumer: row.consumer,
    kind: row.kind,
    name: row.name,
    feature: row.feature === '' ? null : row.feature,
    approvedBy: row.approved_by,
    grantedAt: row.granted_at,
  };
}
