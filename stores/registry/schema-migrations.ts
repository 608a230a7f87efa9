import type { Pool } from 'pg';
import { LOCK_CLASS } from './advisory-locks.ts';

/**
 * The registry's own schema, as numbered steps applied in order, once each, recorded in
 * `granary_schema_migrations`. Steps are append-only: never edit one that has shipped, add the
 * next. `migrateSchema` holds a session advisory lock while it runs, so processes migrating at
 * the same time wait for each other and the second finds nothing left to do.
 *
 * @example
 *   await migrateSchema(pool); // => [1] the first time, [] after
 */
export interface SchemaMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const SCHEMA_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'objects, history, commit log, watermarks, generations',
    sql: `
      CREATE TABLE granary_objects (
        project        text        NOT NULL,
        kind           text        NOT NULL CHECK (kind IN ('entity', 'source', 'featureView', 'featureService')),
        name           text        NOT NULL,
        version        integer     NOT NULL CHECK (version >= 1),
        schema_version integer     NOT NULL CHECK (schema_version >= 1),
        revision       integer     NOT NULL CHECK (revision >= 1),
        spec           jsonb       NOT NULL,
        content_hash   text        NOT NULL,
        status         text        NOT NULL CHECK (status IN ('active', 'migrating', 'deprecated', 'removed')),
        applied_at     timestamptz NOT NULL,
        PRIMARY KEY (project, kind, name, version)
      );

      CREATE TABLE granary_object_history (
        id             bigserial   PRIMARY KEY,
        project        text        NOT NULL,
        kind           text        NOT NULL,
        name           text        NOT NULL,
        version        integer     NOT NULL,
        revision       integer     NOT NULL,
        action         text        NOT NULL CHECK (action IN ('add', 'update', 'remove')),
        schema_version integer     NOT NULL,
        spec           jsonb       NOT NULL,
        content_hash   text        NOT NULL,
        status         text        NOT NULL,
        applied_at     timestamptz NOT NULL,
        UNIQUE (project, kind, name, version, revision)
      );

      CREATE TABLE granary_commits (
        seq            bigserial   PRIMARY KEY,
        project        text        NOT NULL,
        view           text        NOT NULL,
        version        integer     NOT NULL,
        batch_id       text        NOT NULL,
        schema_version integer     NOT NULL,
        committed_at   timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project, view, version, batch_id)
      );
      CREATE INDEX granary_commits_by_view ON granary_commits (project, view, version, seq);

      CREATE TABLE granary_commit_objects (
        seq            bigint      NOT NULL REFERENCES granary_commits (seq),
        ordinal        integer     NOT NULL,
        key            text        NOT NULL,
        row_count      bigint      NOT NULL CHECK (row_count >= 0),
        min_event_time timestamptz NOT NULL,
        max_event_time timestamptz NOT NULL,
        checksum       text        NOT NULL,
        bytes          bigint      NOT NULL CHECK (bytes >= 0),
        PRIMARY KEY (seq, ordinal)
      );

      CREATE TABLE granary_watermarks (
        project        text        NOT NULL,
        view           text        NOT NULL,
        version        integer     NOT NULL,
        generation     integer     NOT NULL,
        seq            bigint      NOT NULL CHECK (seq >= 0),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, view, version, generation)
      );

      CREATE TABLE granary_generations (
        project        text        NOT NULL,
        view           text        NOT NULL,
        version        integer     NOT NULL,
        generation     integer     NOT NULL CHECK (generation >= 1),
        state          text        NOT NULL CHECK (state IN ('building', 'active', 'retired')),
        created_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, view, version, generation)
      );
      CREATE UNIQUE INDEX granary_generations_one_active ON granary_generations (project, view, version) WHERE state = 'active';
    `,
  },
  {
    version: 2,
    name: 'generation life cycle: building, active, retired, dropped',
    sql: `
      ALTER TABLE granary_generations DROP CONSTRAINT granary_generations_state_check;
      ALTER TABLE granary_generations ADD CONSTRAINT granary_generations_state_check
        CHECK (state IN ('building', 'active', 'retired', 'dropped'));
      ALTER TABLE granary_generations ADD COLUMN activated_at timestamptz, ADD COLUMN retired_at timestamptz;
      UPDATE granary_generations SET activated_at = created_at WHERE state = 'active';
      CREATE UNIQUE INDEX granary_generations_one_building ON granary_generations (project, view, version) WHERE state = 'building';
    `,
  },
  {
    version: 3,
    name: 'view migrations: one row per (view, from version, to version)',
    sql: `
      CREATE TABLE granary_view_migrations (
        project        text        NOT NULL,
        view           text        NOT NULL,
        from_version   integer     NOT NULL,
        to_version     integer     NOT NULL CHECK (to_version > from_version),
        state          text        NOT NULL CHECK (state IN ('running', 'switched', 'completed', 'rolled-back', 'failed')),
        spec_hash      text        NOT NULL,
        workflow_id    text        NOT NULL,
        message        text,
        started_at     timestamptz NOT NULL DEFAULT now(),
        switched_at    timestamptz,
        finished_at    timestamptz,
        updated_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, view, from_version, to_version)
      );
    `,
  },
  {
    version: 4,
    name: "project homes: where each project's offline data lives",
    sql: `
      CREATE TABLE granary_project_homes (
        project        text        PRIMARY KEY,
        kind           text        NOT NULL CHECK (kind IN ('local', 's3')),
        -- s3://bucket/prefix, or the absolute path of a local folder; never credentials
        offline_url    text        NOT NULL,
        s3_endpoint    text,
        s3_bucket      text,
        CHECK ((kind = 's3') = (s3_bucket IS NOT NULL)),
        recorded_at    timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 5,
    name: 'monitoring: results with their time, distribution baselines',
    sql: `
      CREATE TABLE granary_monitor_results (
        id             bigserial   PRIMARY KEY,
        project        text        NOT NULL,
        view           text        NOT NULL,
        version        integer     NOT NULL,
        metric         text        NOT NULL,
        -- '' for a view's own metrics (freshness)
        feature        text        NOT NULL,
        value          double precision NOT NULL,
        objective      double precision NOT NULL,
        state          text        NOT NULL CHECK (state IN ('ok', 'warn', 'alert')),
        detail         jsonb       NOT NULL DEFAULT '{}',
        -- the monitoring run (its workflow run id): a retried activity writes each result once
        run_id         text        NOT NULL,
        measured_at    timestamptz NOT NULL,
        UNIQUE (project, run_id, view, version, metric, feature)
      );
      CREATE INDEX granary_monitor_results_latest ON granary_monitor_results (project, view, version, metric, feature, measured_at DESC);

      CREATE TABLE granary_monitor_baselines (
        project        text        NOT NULL,
        view           text        NOT NULL,
        version        integer     NOT NULL,
        feature        text        NOT NULL,
        kind           text        NOT NULL CHECK (kind IN ('numeric', 'categorical')),
        start_time     timestamptz NOT NULL,
        end_time       timestamptz NOT NULL,
        -- the baseline is the rows of the commits up to this seq with event time in [start, end)
        up_to_seq      bigint      NOT NULL,
        row_count      bigint      NOT NULL,
        null_count     bigint      NOT NULL,
        bins           jsonb       NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, view, version, feature)
      );
    `,
  },
  {
    version: 6,
    name: 'access control: consumers, token hashes, grants, their history, restricted-read audit',
    sql: `
      CREATE TABLE granary_consumers (
        name           text        PRIMARY KEY,
        -- the project whose configuration created it; grants, not this, decide what it reads
        project        text        NOT NULL,
        description    text        NOT NULL DEFAULT '',
        created_at     timestamptz NOT NULL DEFAULT now(),
        revoked_at     timestamptz
      );

      -- Only a salted HMAC-SHA256 of each token's secret: the token itself is printed once, never stored.
      CREATE TABLE granary_consumer_tokens (
        token_id       text        PRIMARY KEY,
        consumer       text        NOT NULL REFERENCES granary_consumers (name),
        salt           bytea       NOT NULL,
        hash           bytea       NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        expires_at     timestamptz,
        revoked_at     timestamptz
      );
      CREATE INDEX granary_consumer_tokens_by_consumer ON granary_consumer_tokens (consumer);

      CREATE TABLE granary_grants (
        project        text        NOT NULL,
        consumer       text        NOT NULL REFERENCES granary_consumers (name),
        kind           text        NOT NULL CHECK (kind IN ('service', 'view', 'feature')),
        name           text        NOT NULL,
        feature        text        NOT NULL DEFAULT '',
        approved_by    text,
        granted_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project, consumer, kind, name, feature)
      );

      CREATE TABLE granary_access_history (
        id             bigserial   PRIMARY KEY,
        project        text        NOT NULL,
        consumer       text        NOT NULL,
        action         text        NOT NULL CHECK (action IN ('create-consumer', 'rotate-token', 'revoke-consumer', 'grant', 'revoke-grant')),
        target         text        NOT NULL DEFAULT '',
        approved_by    text,
        actor          text        NOT NULL,
        detail         text        NOT NULL DEFAULT '',
        at             timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE granary_restricted_reads (
        project        text        NOT NULL,
        consumer       text        NOT NULL,
        -- 'service:<name>' or 'features:<view:feature,...>' (the restricted ones read)
        read           text        NOT NULL,
        bucket         timestamptz NOT NULL,
        count          bigint      NOT NULL CHECK (count >= 0),
        PRIMARY KEY (project, consumer, read, bucket)
      );
    `,
  },
  {
    version: 7,
    name: 'view snapshots: the newest committed row per entity of a view version up to a commit seq, by entity-hash partition',
    sql: `
      -- One compaction (workflows/compact-view-workflow.ts): its runs are Arrow IPC objects at
      -- snapshotRunKey (stores/offline/object-key.ts), runs[p] of them for partition p.
      CREATE TABLE granary_view_snapshots (
        project        text        NOT NULL,
        view           text        NOT NULL,
        version        integer     NOT NULL,
        seq            bigint      NOT NULL,
        partitions     integer     NOT NULL,
        runs           integer[]   NOT NULL,
        -- the future-time rule's skew the rows were judged with (future-event-time.ts)
        max_future_skew_ms bigint  NOT NULL,
        rows_committed bigint      NOT NULL,
        entities       bigint      NOT NULL,
        prefix         text        NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        -- set when something made the snapshot unsafe to read (it is then never used again)
        invalidated_at timestamptz,
        invalidated_because text,
        PRIMARY KEY (project, view, version, seq, partitions)
      );
    `,
  },
];

/** Applies the steps not yet applied; returns their versions. */
export async function migrateSchema(pool: Pool, migrations: readonly SchemaMigration[] = SCHEMA_MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1, 0)', [LOCK_CLASS.migrate]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS granary_schema_migrations (
          version    integer     PRIMARY KEY,
          name       text        NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM granary_schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      const done: number[] = [];
      for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(step.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(step.sql);
          await client.query('INSERT INTO granary_schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`registry schema migration ${step.version} (${step.name}) failed: ${(error as Error).message}`, { cause: error });
        }
        done.push(step.version);
      }
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_CLASS.migrate]);
    }
  } finally {
    client.release();
  }
}
