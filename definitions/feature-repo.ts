import { readdir } from 'node:fs/promises';
import { register } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DefinitionError } from './definition-error.ts';
import type { Entity } from './entity.ts';
import { defaultTypeProblem } from './feature-defaults.ts';
import type { FeatureService } from './feature-service.ts';
import type { Feature, FeatureView } from './feature-view.ts';
import type { Source } from './source.ts';
import { specOf } from './spec.ts';
import { migrationMapping } from './view-migration.ts';

/**
 * A feature repo: every definition exported by the TypeScript files of one folder, checked
 * against each other. Views are keyed by name and version; the rest by name.
 *
 * @example
 *   const repo = await loadFeatureRepo('definitions/examples/fraud');
 *   repo.views.map((v) => v.name) // => ['user_spend_features']
 */
export interface FeatureRepo {
  readonly dir: string;
  readonly entities: readonly Entity[];
  readonly sources: readonly Source[];
  readonly views: readonly FeatureView[];
  readonly services: readonly FeatureService[];
}

export type Definition = Entity | Source | FeatureView | FeatureService;

/** A feature of a service, resolved to its view: the unit a model sees, in order. */
export interface ResolvedFeature {
  readonly view: FeatureView;
  readonly feature: Feature;
}

const DEFINITION_KINDS = new Set(['entity', 'source', 'featureView', 'featureService']);

/**
 * Loads every `.ts` file under `dir` (except tests, declarations and dot or node_modules folders).
 * The folder may be anywhere, with or without a package.json: its files load as ES modules and
 * `import ... from 'granary'` resolves to this installation (feature-repo-hooks.mjs).
 */
export async function loadFeatureRepo(dir: string): Promise<FeatureRepo> {
  const root = resolve(dir);
  registerRepoHooks();
  const files = await listDefinitionFiles(root);
  if (files.length === 0) {
    throw new DefinitionError({ file: dir }, 'no TypeScript definition files found in the feature repo');
  }
  const found: { definition: Definition; file: string }[] = [];
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    let exports: Record<string, unknown>;
    try {
      exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof DefinitionError) throw error.inFile(shown);
      throw new DefinitionError({ file: shown }, `failed to load: ${(error as Error).message ?? String(error)}`);
    }
    for (const value of Object.values(exports)) {
      if (isDefinition(value)) found.push({ definition: value, file: shown });
    }
  }
  return buildFeatureRepo(root, found);
}

let hooksRegistered = false;

/** Once per process (before the first repo file is imported); later imports go through the hooks. */
function registerRepoHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  register(new URL('./feature-repo-hooks.mjs', import.meta.url));
}

/** Checks a set of definitions against each other; `file` locates each in errors. */
export function buildFeatureRepo(dir: string, found: readonly { definition: Definition; file?: string }[]): FeatureRepo {
  const entities = new Registry<Entity>('entity', (e) => e.name);
  const sources = new Registry<Source>('source', (s) => s.name);
  const views = new Registry<FeatureView>('feature view', (v) => `${v.name}@${v.version}`, (v) => `${v.name}' version '${v.version}`);
  const services = new Registry<FeatureService>('feature service', (s) => s.name);

  for (const { definition, file } of found) {
    switch (definition.kind) {
      case 'entity':
        entities.add(definition, file);
        break;
      case 'source':
        sources.add(definition, file);
        break;
      case 'featureView':
        views.add(definition, file);
        // Entities and sources a view uses count as defined even when not exported.
        for (const e of definition.entities) entities.add(e, file);
        sources.add(definition.source, file);
        break;
      case 'featureService':
        services.add(definition, file);
        break;
    }
  }

  const joinKeyTypes = new Map<string, Entity>();
  for (const e of entities.values()) {
    const other = joinKeyTypes.get(e.joinKey);
    if (other && other.valueType !== e.valueType) {
      throw new DefinitionError(
        { file: entities.fileOf(e), kind: 'entity', name: e.name, field: 'valueType' },
        `join key '${e.joinKey}' is '${e.valueType}' here but '${other.valueType}' in entity '${other.name}'`,
      );
    }
    joinKeyTypes.set(e.joinKey, e);
  }

  const repo: FeatureRepo = Object.freeze({
    dir,
    entities: Object.freeze(entities.values()),
    sources: Object.freeze(sources.values()),
    views: Object.freeze(views.values()),
    services: Object.freeze(services.values()),
  });
  for (const service of repo.services) {
    try {
      resolveFeatureService(repo, service);
    } catch (error) {
      if (error instanceof DefinitionError) throw error.inFile(services.fileOf(service) ?? '');
      throw error;
    }
  }
  // A version migrated from another one in the repo: its renames and casts must fit both.
  for (const view of repo.views) {
    const from = view.migrateFrom ? findView(repo, view.name, view.migrateFrom.version) : undefined;
    if (!from || from.version !== view.migrateFrom?.version) continue;
    try {
      migrationMapping(specOf(from), specOf(view));
    } catch (error) {
      if (error instanceof DefinitionError) throw error.inFile(views.fileOf(view) ?? '');
      throw error;
    }
  }
  return repo;
}

/** The view of that name: the given version, or the highest one in the repo. */
export function findView(repo: FeatureRepo, name: string, version?: number | null): FeatureView | undefined {
  const candidates = repo.views.filter((v) => v.name === name && (version == null || v.version === version));
  return candidates.sort((a, b) => b.version - a.version)[0];
}

/** The service's features, in the order the model sees them. */
export function resolveFeatureService(repo: FeatureRepo, service: FeatureService): ResolvedFeature[] {
  const out: ResolvedFeature[] = [];
  const seen = new Set<string>();
  service.items.forEach((item, i) => {
    const where = { kind: 'feature service', name: service.name, field: `features[${i}]` };
    const view = findView(repo, item.view, item.version);
    if (!view) {
      const known = [...new Set(repo.views.map((v) => v.name))].join(', ') || 'none';
      const which = item.version == null ? `'${item.view}'` : `'${item.view}' version ${item.version}`;
      throw new DefinitionError(where, `unknown feature view ${which} (known views: ${known})`);
    }
    const names = item.features ?? view.features.map((f) => f.name);
    for (const name of names) {
      const feature = view.features.find((f) => f.name === name);
      if (!feature) {
        throw new DefinitionError(
          where,
          `feature view '${view.name}' has no feature '${name}' (it has: ${view.features.map((f) => f.name).join(', ')})`,
        );
      }
      const key = `${view.name}:${name}`;
      if (seen.has(key)) throw new DefinitionError(where, `'${key}' is listed twice`);
      seen.add(key);
      out.push({ view, feature });
    }
  });
  checkServiceDefaults(service, out);
  return out;
}

/** Each default names a feature of the service and fits that feature's declared type. */
function checkServiceDefaults(service: FeatureService, features: readonly ResolvedFeature[]): void {
  const byRef = new Map(features.map((f) => [`${f.view.name}:${f.feature.name}`, f]));
  for (const [key, value] of Object.entries(service.defaults)) {
    const resolved = byRef.get(key);
    if (!resolved) {
      throw new DefinitionError(
        { kind: 'feature service', name: service.name, field: 'defaults' },
        `'${key}' is not a feature of this service (it serves: ${[...byRef.keys()].join(', ')})`,
      );
    }
    const problem = defaultTypeProblem(value, resolved.feature.type);
    if (problem) {
      throw new DefinitionError(
        { kind: 'feature service', name: service.name, field: `defaults.${key}` },
        `the default of feature '${key}' does not fit its declared type: ${problem}`,
      );
    }
  }
}

function isDefinition(value: unknown): value is Definition {
  return typeof value === 'object' && value !== null && DEFINITION_KINDS.has((value as { kind?: string }).kind ?? '');
}

async function listDefinitionFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      out.push(...(await listDefinitionFiles(path)));
    } else if (/\.m?ts$/.test(entry.name) && !/\.(d|test|spec)\.m?ts$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out;
}

/** Definitions of one kind, keyed; the same definition twice is fine, two different ones under one key are not. */
class Registry<T extends Definition> {
  private readonly byKey = new Map<string, { value: T; file: string | undefined; spec: string }>();

  constructor(
    private readonly label: string,
    private readonly keyOf: (value: T) => string,
    private readonly nameOf: (value: T) => string = keyOf,
  ) {}

  add(value: T, file: string | undefined): void {
    const key = this.keyOf(value);
    const spec = JSON.stringify(specOf(value));
    const existing = this.byKey.get(key);
    if (!existing) {
      this.byKey.set(key, { value, file, spec });
    } else if (existing.spec !== spec) {
      const first = existing.file ? ` (first defined in ${existing.file})` : '';
      throw new DefinitionError(
        { file, kind: this.label, name: this.nameOf(value) },
        `is defined twice with different content${first}; names must be unique`,
      );
    }
  }

  values(): T[] {
    return [...this.byKey.values()].map((e) => e.value);
  }

  fileOf(value: T): string | undefined {
    return this.byKey.get(this.keyOf(value))?.file;
  }
}
