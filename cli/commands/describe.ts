import { InvalidArgumentError, type Command } from 'commander';
import type { FeatureViewSpec } from '../../definitions/spec.ts';
import { KIND_LABELS } from '../../stores/registry/object-label.ts';
import type { Registry } from '../../stores/registry/registry.ts';
import type { ObjectKind } from '../../definitions/spec.ts';
import { commandAction } from '../command-action.ts';
import { formatDescription, withActions, type ObjectDescription } from '../format-description.ts';
import { globalOptions } from '../global-options.ts';
import { parseObjectKind } from '../parse-object-kind.ts';
import { withRegistry } from '../with-registry.ts';
import { printJson, printLines } from '../output.ts';

const ALL_KINDS: readonly ObjectKind[] = ['entity', 'source', 'featureView', 'featureService'];

/** `granary describe <name>`: one registered object in full, with its versions and history. */
export function registerDescribeCommand(program: Command): void {
  program
    .command('describe')
    .argument('<name>', 'the object name')
    .option('--kind <kind>', 'entity, source, view (feature-view) or service (feature-service); needed when the name is shared', parseObjectKind)
    .option('--version <n>', 'the feature view version (default: the highest)', parseVersion)
    .description('show a registered object: owner, description, tags, schema, TTL, entities, source, versions and history')
    .action(
      commandAction(async (name: string, own: { kind?: ObjectKind; version?: number }, command: Command) => {
        const options = globalOptions(command);
        const description = await withRegistry(options, (registry, config) => describe(registry, name, own.kind, own.version, config.registry.url));
        if (options.json) printJson(description);
        else printLines(formatDescription(description));
      }),
    );
}

async function describe(registry: Registry, name: string, kind?: ObjectKind, version?: number, url?: string): Promise<ObjectDescription> {
  const kinds = kind ? [kind] : ALL_KINDS;
  const found = (await Promise.all(kinds.map((k) => registry.getObject(k, name, version)))).filter((o) => o !== undefined);
  const object = found[0];
  if (!object) {
    const which = kind ? `${KIND_LABELS[kind]} ` : '';
    const at = version === undefined ? '' : ` version ${version}`;
    throw new Error(`no ${which}'${name}'${at} in the registry of project '${registry.project}' (see granary list)`);
  }
  if (found.length > 1) {
    throw new Error(`'${name}' names more than one object (${found.map((o) => KIND_LABELS[o.kind]).join(', ')}); pass --kind`);
  }
  const all = await registry.listObjects(object.kind, { includeRemoved: true });
  const sourceName = object.kind === 'featureView' ? (object.spec as FeatureViewSpec).source : undefined;
  const source = sourceName === undefined ? undefined : await registry.getObject('source', sourceName);
  return {
    object,
    versions: all.filter((o) => o.name === name),
    ...(source ? { source } : {}),
    history: withActions(await registry.history(object.kind, name)),
    ...(url && (object.kind === 'featureView' || object.kind === 'featureService') ? { grants: await grantsNaming(url, registry.project, object.kind, name) } : {}),
  };
}

/** The grants of the project that name this view (whole, or one of its features) or this service. */
async function grantsNaming(url: string, project: string, kind: 'featureView' | 'featureService', name: string) {
  const { PostgresAccessRegistry } = await import('../../stores/registry/postgres-access-registry.ts');
  const access = new PostgresAccessRegistry({ url });
  try {
    const grants = await access.grants({ project });
    return grants.filter((g) => g.name === name && (kind === 'featureService' ? g.kind === 'service' : g.kind !== 'service'));
  } finally {
    await access.close();
  }
}

function parseVersion(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1.');
  return n;
}
