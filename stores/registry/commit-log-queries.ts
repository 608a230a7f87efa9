import type { Pool } from 'pg';
import { LOCK_CLASS } from './advisory-locks.ts';
import type { Queryable } from './object-queries.ts';
import { COMMIT_SELECT, toCommit, type CommitRow } from './registry-rows.ts';
import type { Commit, CommitRange, NewCommit } from './commit-log.ts';
import { withTransaction } from './with-transaction.ts';

/**
 * The offline commit log. A commit row makes its objects visible; it is inserted once per
 * (project, view, version, batch id), and a retry gets the first one back. Commits of one view
 * version are inserted under a transaction advisory lock, so their seqs (global, from a
 * sequence) also become visible in increasing order: a reader that saw seq N never later finds a
 * new commit of that view below N, which is what makes seqs safe to use as watermarks.
 *
 * @example
 *   const { commit, created } = await insertCommit(pool, 'fraud', { view: 'user_spend', version: 1, batchId: 'b1', ... });
 *   commit.seq // => 42
 */
export async function insertCommit(pool: Pool, project: string, input: NewCommit): Promise<{ commit: Commit; created: boolean }> {
  checkNewCommit(input);
  const existing = await findCommit(pool, project, input.view, input.version, input.batchId);
  if (existing) return { commit: existing, created: false };
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS.commit, `${project}/${input.view}/${input.version}`]);
    const view = await client.query<{ status: string }>(
      `SELECT status FROM granary_objects WHERE project = $1 AND kind = 'featureView' AND name = $2 AND version = $3`,
      [project, input.view, input.version],
    );
    const status = view.rows[0]?.status;
    if (status === undefined || status === 'removed') {
      throw new Error(
        `cannot commit to feature view '${input.view}' version ${input.version} of project '${project}': ` +
          (status === undefined ? 'it is not registered (run granary apply)' : 'it was removed from the registry'),
      );
    }
    const inserted = await client.query<{ seq: string }>(
      `INSERT INTO granary_commits (project, view, version, batch_id, schema_version) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (project, view, version, batch_id) DO NOTHING RETURNING seq`,
      [project, input.view, input.version, input.batchId, input.schemaVersion],
    );
    const seq = inserted.rows[0]?.seq;
    if (seq === undefined) {
      // Another process committed the same batch between our look-up and our lock.
      const again = await findCommit(client, project, input.view, input.version, input.batchId);
      if (!again) throw new Error(`commit of batch '${input.batchId}' vanished while it was being inserted`);
      return { commit: again, created: false };
    }
    for (const [ordinal, o] of input.objects.entries()) {
      await client.query(
        `INSERT INTO granary_commit_objects (seq, ordinal, key, row_count, min_event_time, max_event_time, checksum, bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [seq, ordinal, o.key, o.rowCount, o.minEventTime, o.maxEventTime, o.checksum, o.bytes],
      );
    }
    const commit = await findCommit(client, project, input.view, input.version, input.batchId);
    if (!commit) throw new Error(`commit of batch '${input.batchId}' is missing right after its insert`);
    return { commit, created: true };
  });
}

export async function findCommit(db: Queryable, project: string, view: string, version: number, batchId: string): Promise<Commit | undefined> {
  const { rows } = await db.query<CommitRow>(
    `${COMMIT_SELECT} WHERE c.project = $1 AND c.view = $2 AND c.version = $3 AND c.batch_id = $4`,
    [project, view, version, batchId],
  );
  return rows[0] ? toCommit(rows[0]) : undefined;
}

/** Commits of one view version with after < seq <= upTo, in seq order. */
export async function selectCommits(db: Queryable, project: string, view: string, version: number, range: CommitRange = {}): Promise<Commit[]> {
  const params: unknown[] = [project, view, version, range.after ?? 0];
  let sql = `${COMMIT_SELECT} WHERE c.project = $1 AND c.view = $2 AND c.version = $3 AND c.seq > $4`;
  if (range.upTo !== undefined) {
    params.push(range.upTo);
    sql += ` AND c.seq <= $${params.length}`;
  }
  sql += ' ORDER BY c.seq';
  if (range.limit !== undefined) {
    params.push(range.limit);
    sql += ` LIMIT $${params.length}`;
  }
  const { rows } = await db.query<CommitRow>(sql, params);
  return rows.map(toCommit);
}

/** The highest seq committed for the view version; 0 when none. */
export async function selectLatestSeq(db: Queryable, project: string, view: string, version: number): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>(
    'SELECT max(seq) AS seq FROM granary_commits WHERE project = $1 AND view = $2 AND version = $3',
    [project, view, version],
  );
  return Number(rows[0]?.seq ?? 0);
}

function checkNewCommit(input: NewCommit): void {
  const problems: string[] = [];
  if (!input.batchId) problems.push('batchId is empty');
  if (!Number.isInteger(input.version) || input.version < 1) problems.push(`version must be a whole number >= 1, got ${input.version}`);
  if (!Number.isInteger(input.schemaVersion) || input.schemaVersion < 1) problems.push(`schemaVersion must be >= 1, got ${input.schemaVersion}`);
  for (const o of input.objects) {
    if (!o.key) problems.push('an object has an empty key');
    if (!Number.isInteger(o.rowCount) || o.rowCount < 0) problems.push(`object '${o.key}': rowCount must be a whole number >= 0`);
    if (!Number.isInteger(o.bytes) || o.bytes < 0) problems.push(`object '${o.key}': bytes must be a whole number >= 0`);
    if (Number.isNaN(o.minEventTime.getTime()) || Number.isNaN(o.maxEventTime.getTime())) problems.push(`object '${o.key}': invalid event time`);
    else if (o.minEventTime > o.maxEventTime) problems.push(`object '${o.key}': minEventTime is after maxEventTime`);
  }
  if (problems.length) throw new Error(`invalid commit of batch '${input.batchId}' to '${input.view}' version ${input.version}: ${problems.join('; ')}`);
}

/** The greatest event time of the commits up to `upTo` (what the online store's newest row can be). */
export async function selectNewestEventTime(db: Queryable, project: string, view: string, version: number, upTo: number): Promise<Date | undefined> {
  const { rows } = await db.query<{ newest: Date | null }>(
    `SELECT max(o.max_event_time) AS newest FROM granary_commits c JOIN granary_commit_objects o ON o.seq = c.seq
      WHERE c.project = $1 AND c.view = $2 AND c.version = $3 AND c.seq <= $4`,
    [project, view, version, upTo],
  );
  return rows[0]?.newest ?? undefined;
}
