import type { Command } from 'commander';
import { KIND_LABELS } from '../../stores/registry/object-label.ts';
import type { RegisteredObject } from '../../stores/registry/definition-registry.ts';
import type { ObjectKind } from '../../definitions/spec.ts';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { parseObjectKind } from '../parse-object-kind.ts';
import { withRegistry } from '../with-registry.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/** `granary list [kind]`: the registered objects, one line each. */
export function registerListCommand(program: Command): void {
  program
    .command('list')
    .argument('[kind]', 'only this kind: entity, source, view (feature-view) or service (feature-service)', parseObjectKind)
    .option('--all', 'include objects removed from the repo', false)
    .description('list the registered objects: kind, name, version, schema version, owner, status')
    .action(
      commandAction(async (kind: ObjectKind | undefined, own: { all: boolean }, command: Command) => {
        const options = globalOptions(command);
        const objects = await withRegistry(options, (registry) => registry.listObjects(kind, { includeRemoved: own.all }));
        const rows = objects.map(summarize);
        if (options.json) printJson(rows);
        else if (rows.length === 0) printLines(kind ? `no ${KIND_LABELS[kind]} registered.` : 'nothing registered; run granary apply.');
        else {
          printLines(
            formatTable(
              ['KIND', 'NAME', 'VERSION', 'SCHEMA', 'OWNER', 'STATUS'],
              rows.map((r) => [KIND_LABELS[r.kind], r.name, String(r.version), String(r.schemaVersion), r.owner || '-', r.status]),
            ),
          );
        }
      }),
    );
}

function summarize(o: RegisteredObject) {
  return {
    kind: o.kind,
    name: o.name,
    version: o.version,
    schemaVersion: o.schemaVersion,
    owner: o.spec.owner,
    status: o.status,
    appliedAt: o.appliedAt,
  };
}
