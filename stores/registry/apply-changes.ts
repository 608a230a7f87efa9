import type { PoolClient } from 'pg';
import type { FeatureRepo } from '../../definitions/feature-repo.ts';
import type { FeatureViewSpec } from '../../definitions/spec.ts';
import { LOCK_CLASS } from './advisory-locks.ts';
import { BreakingChangeError } from './breaking-change-error.ts';
import { contentHash } from '../../definitions/changes/content-hash.ts';
import { selectObjects } from './object-queries.ts';
import { desiredObjects, planChanges, type DesiredObject } from '../../definitions/changes/plan-changes.ts';
import type { ObjectChange, Plan } from '../../definitions/changes/plan.ts';

/**
 * Apply, inside the caller's transaction: takes the project's apply lock (so applies of one
 * project run one after the other), plans against what is registered now, refuses breaking
 * changes, then writes each change and its history row. Adds start at schema version 1 (a view
 * version declared with `migrateFrom` as 'migrating', the rest 'active'); an
 * update (or a re-add of a removed object) bumps it; a remove only marks the object removed.
 *
 * @example
 *   await withTransaction(pool, (client) => applyChanges(client, 'fraud', repo)) // => the plan it applied
 */
export async function applyChanges(client: PoolClient, project: string, repo: FeatureRepo): Promise<Plan> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS.apply, project]);
  const registered = await selectObjects(client, project, { includeRemoved: true });
  const plan = planChanges(project, registered, repo);
  if (plan.breaking) throw new BreakingChangeError(plan);
  const desired = new Map(desiredObjects(repo).map((d) => [`${d.kind}/${d.name}/${d.version}`, d]));
  for (const change of plan.changes) {
    const object = desired.get(`${change.kind}/${change.name}/${change.version}`);
    if (change.action === 'remove') await markRemoved(client, project, change);
    else if (object) await upsertObject(client, project, object, change.action);
  }
  return plan;
}

/** Appends the rows of the `changed` CTE to the history, with the given action (an SQL expression). */
function recordHistory(action: string): string {
  return `INSERT INTO granary_object_history
            (project, kind, name, version, revision, action, schema_version, spec, content_hash, status, applied_at)
          SELECT project, kind, name, version, revision, ${action}, schema_version, spec, content_hash, status, applied_at
            FROM changed`;
}

async function upsertObject(client: PoolClient, project: string, object: DesiredObject, action: 'add' | 'update'): Promise<void> {
  await client.query(
    `WITH changed AS (
       INSERT INTO granary_objects AS o
         (project, kind, name, version, schema_version, revision, spec, content_hash, status, applied_at)
       VALUES ($1, $2, $3, $4, 1, 1, $5, $6, $8, now())
       ON CONFLICT (project, kind, name, version) DO UPDATE SET
         schema_version = o.schema_version + 1,
         revision = o.revision + 1,
         spec = EXCLUDED.spec,
         content_hash = EXCLUDED.content_hash,
         status = CASE WHEN o.status = 'removed' THEN 'active' ELSE o.status END,
         applied_at = EXCLUDED.applied_at
       RETURNING *
     ) ${recordHistory('$7')}`,
    [project, object.kind, object.name, object.version, JSON.stringify(object.spec), contentHash(object.spec), action, initialStatus(object)],
  );
}

/**
 * A view version declared with `migrateFrom` starts as 'migrating': unpinned references keep
 * meaning the older version until `granary migrate` switches them (current-version.ts).
 */
function initialStatus(object: DesiredObject): 'active' | 'migrating' {
  return object.kind === 'featureView' && (object.spec as FeatureViewSpec).migrateFrom ? 'migrating' : 'active';
}

async function markRemoved(client: PoolClient, project: string, change: ObjectChange): Promise<void> {
  await client.query(
    `WITH changed AS (
       UPDATE granary_objects SET status = 'removed', revision = revision + 1, applied_at = now()
        WHERE project = $1 AND kind = $2 AND name = $3 AND version = $4 AND status <> 'removed'
       RETURNING *
     ) ${recordHistory("'remove'")}`,
    [project, change.kind, change.name, change.version],
  );
}
