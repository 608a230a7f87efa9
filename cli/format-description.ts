import { formatDuration } from '../definitions/duration.ts';
import type { EntitySpec, FeatureServiceSpec, FeatureViewSpec, SourceSpec } from '../definitions/spec.ts';
import { objectLabel } from '../stores/registry/object-label.ts';
import { grantTarget, type Grant } from '../stores/registry/access-registry.ts';
import type { RegisteredObject } from '../stores/registry/definition-registry.ts';
import { formatTable } from './output.ts';

/**
 * What `granary describe` shows of one object: the object, the other versions of its name, the
 * source a view reads (when registered), and every applied state, oldest first.
 *
 * @example
 *   formatDescription(description)[0] // => "feature view 'user_spend_features' version 1"
 */
export interface ObjectDescription {
  readonly object: RegisteredObject;
  readonly versions: readonly RegisteredObject[];
  readonly source?: RegisteredObject<'source'>;
  readonly history: readonly (RegisteredObject & { readonly action: 'add' | 'update' | 'remove' })[];
  /** Who may read it (views and services): the grants naming it, with their approvals. */
  readonly grants?: readonly Grant[];
}

/** Labels each applied state: the first of a version (or one after a removal) is an add. */
export function withActions(history: readonly RegisteredObject[]): ObjectDescription['history'] {
  const last = new Map<number, RegisteredObject>();
  return history.map((state) => {
    const previous = last.get(state.version);
    last.set(state.version, state);
    const action = state.status === 'removed' ? 'remove' : !previous || previous.status === 'removed' ? 'add' : 'update';
    return { ...state, action };
  });
}

export function formatDescription({ object, versions, source, history, grants }: ObjectDescription): string[] {
  const spec = object.spec;
  const lines = [objectLabel(object), ...field('status', `${object.status}, schema version ${object.schemaVersion}`)];
  lines.push(...field('owner', spec.owner || '-'), ...field('description', spec.description || '-'), ...field('tags', formatTags(spec.tags)));
  switch (object.kind) {
    case 'entity': {
      const e = spec as EntitySpec;
      lines.push(...field('join key', `${e.joinKey} (${e.valueType})`));
      break;
    }
    case 'source': {
      const s = spec as SourceSpec;
      lines.push(...field('path', s.path), ...timestampFields(s));
      break;
    }
    case 'featureView': {
      const v = spec as FeatureViewSpec;
      lines.push(...field('entities', v.entities.map((e) => `${e.name} (${e.joinKey}: ${e.valueType})`).join(', ')));
      lines.push(...field('source', source ? `${v.source} (${(source.spec as SourceSpec).path})` : v.source), ...timestampFields(v));
      lines.push(...field('ttl', formatDuration(v.ttlSeconds)), ...field('online', v.online ? 'yes' : 'no'));
      if (v.sensitivity === 'restricted') lines.push(...field('sensitivity', 'restricted (every feature: read only with an approved grant)'));
      lines.push('  features:');
      const rows = v.features.map((f) => [f.name, f.type, `${f.nullable ? 'nullable' : 'not null'}${f.allowNonFinite ? ', NaN/Infinity allowed' : ''}${f.pii ? ', pii' : ''}`, f.description]);
      lines.push(...formatTable(['NAME', 'TYPE', 'NULLS', 'DESCRIPTION'], rows).map((l) => `    ${l}`));
      break;
    }
    case 'featureService': {
      const s = spec as FeatureServiceSpec;
      lines.push('  features (in model order):');
      for (const item of s.items) {
        const view = item.version === null ? item.view : `${item.view}@${item.version}`;
        lines.push(`    ${item.features === null ? `${view} (all features)` : item.features.map((f) => `${view}:${f}`).join(', ')}`);
      }
      const defaults = Object.entries(s.defaults ?? {});
      lines.push(defaults.length === 0 ? '  defaults: none (fail-closed: missing and stale values are null)' : '  defaults (served for missing and stale values):');
      for (const [feature, value] of defaults) lines.push(`    ${feature} = ${JSON.stringify(value)}`);
      break;
    }
  }
  if (object.kind === 'featureView') {
    lines.push('  versions:');
    const rows = versions.map((v) => [String(v.version), String(v.schemaVersion), v.status, v.appliedAt.toISOString()]);
    lines.push(...formatTable(['VERSION', 'SCHEMA', 'STATUS', 'APPLIED'], rows).map((l) => `    ${l}`));
  }
  if (grants) {
    lines.push(grants.length === 0 ? '  access: no consumer is granted it (granary access grant)' : '  access (granted to):');
    const rows = grants.map((g) => [g.consumer, grantTarget(g), g.approvedBy ?? '-', g.grantedAt.toISOString()]);
    if (grants.length > 0) lines.push(...formatTable(['CONSUMER', 'GRANT', 'APPROVED BY', 'GRANTED'], rows).map((l) => `    ${l}`));
  }
  lines.push('  history:');
  const rows = history.map((h) => [h.appliedAt.toISOString(), h.action, String(h.version), String(h.schemaVersion), h.contentHash.slice(0, 12)]);
  lines.push(...formatTable(['APPLIED', 'ACTION', 'VERSION', 'SCHEMA', 'HASH'], rows).map((l) => `    ${l}`));
  return lines;
}

function field(label: string, value: string): string[] {
  return [`  ${`${label}:`.padEnd(14)}${value}`];
}

function timestampFields(spec: { eventTimestampColumn: string; createdTimestampColumn: string | null }): string[] {
  return [...field('event time', spec.eventTimestampColumn), ...field('created time', spec.createdTimestampColumn ?? '-')];
}

function formatTags(tags: Record<string, string>): string {
  const entries = Object.entries(tags);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : '-';
}
