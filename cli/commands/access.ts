import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type GranaryConfig } from '../../config/granary-config.ts';
import { parseDurationSeconds } from '../../definitions/duration.ts';
import { grantTarget, type AccessRegistry, type Grant, type GrantKind } from '../../stores/registry/access-registry.ts';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { globalOptions, type GlobalOptions } from '../global-options.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/**
 * `granary access ...`: consumers, their tokens, and what they may read (access/, the README's
 * security section).
 *
 *   access consumer create <name> [--description TEXT]   prints the token, once
 *   access consumer rotate <name> [--grace 1h]           a new token; the old ones work for --grace more
 *   access consumer revoke <name>                        every token of it stops working
 *   access consumer list
 *   access grant <consumer> <project>:<service|view|view:feature> [--approved-by NAME] [--kind service|view]
 *   access revoke <consumer> <project>:<service|view|view:feature> [--kind service|view]
 *   access list [--consumer NAME] [--all-projects]        grants, with approvals and restricted features
 *   access history [--consumer NAME]                     every change, who made it, when
 *   access audit [--consumer NAME]                       reads of restricted features, per consumer and minute
 *
 * A grant covering restricted features (pii, or of a restricted view) is refused without
 * --approved-by. Running servers see every change within about a second.
 *
 * @example
 *   granary access consumer create fraud_model --description 'the fraud scoring service'
 *   // consumer 'fraud_model' created. Its token (shown once, store it now):
 *   // gry_Jq3...Wk.8fK...Q
 *   granary access grant fraud_model fraud:fraud_model_v1
 *   // granted fraud:fraud_model_v1 (feature service, 4 features) to 'fraud_model'
 */
export function registerAccessCommand(program: Command): void {
  const access = program.command('access').description('consumers, tokens and grants: who may read which features');
  const consumer = access.command('consumer').description('create, rotate, revoke or list consumers (a model, a service, a person)');

  consumer
    .command('create')
    .argument('<name>', 'the consumer name (letters, digits, _ and -)')
    .option('--description <text>', 'what it is', '')
    .description('create a consumer and print its token, once (only a salted hash is stored)')
    .action(
      commandAction(async (name: string, opts: { description: string }, command: Command) => {
        checkName(name);
        const options = globalOptions(command);
        const { newToken } = await import('../../access/consumer-token.ts');
        const { token, stored } = newToken();
        await withAccess(options, (registry, config) =>
          registry.createConsumer({ name, project: config.project, description: opts.description, token: stored, actor: actor() }),
        );
        if (options.json) return printJson({ consumer: name, token });
        printLines([`consumer '${name}' created. Its token (shown once, store it now; set it as GRANARY_TOKEN):`, token]);
      }),
    );

  consumer
    .command('rotate')
    .argument('<name>', 'the consumer')
    .option('--grace <duration>', "how long its current tokens keep working, e.g. '1h', '0s' (default 1h)", parseGrace, 3600)
    .description('give a consumer a new token; the old ones stop working after the grace period')
    .action(
      commandAction(async (name: string, opts: { grace: number }, command: Command) => {
        const options = globalOptions(command);
        const { newToken } = await import('../../access/consumer-token.ts');
        const { token, stored } = newToken();
        const expiring = await withAccess(options, (registry, config) =>
          registry.rotateToken({ name, project: config.project, token: stored, graceMs: opts.grace * 1000, actor: actor() }),
        );
        if (options.json) return printJson({ consumer: name, token, previousTokensExpireInSeconds: opts.grace, previousTokens: expiring });
        printLines([
          `consumer '${name}' has a new token (shown once); its ${expiring} previous token(s) stop working in ${opts.grace} s:`,
          token,
        ]);
      }),
    );

  consumer
    .command('revoke')
    .argument('<name>', 'the consumer')
    .description('revoke a consumer: every token of it stops working (its grants stay, for the record)')
    .action(
      commandAction(async (name: string, _opts: unknown, command: Command) => {
        const options = globalOptions(command);
        await withAccess(options, (registry, config) => registry.revokeConsumer({ name, project: config.project, actor: actor() }));
        if (options.json) return printJson({ consumer: name, revoked: true });
        printLines(`consumer '${name}' revoked: its tokens stop working on running servers within a second or two`);
      }),
    );

  consumer
    .command('list')
    .description('list consumers')
    .action(
      commandAction(async (_opts: unknown, command: Command) => {
        const options = globalOptions(command);
        const consumers = await withAccess(options, (registry) => registry.consumers());
        if (options.json) return printJson(consumers);
        printLines(
          formatTable(
            ['CONSUMER', 'CREATED IN', 'CREATED', 'STATE', 'DESCRIPTION'],
            consumers.map((c) => [c.name, c.project, c.createdAt.toISOString(), c.revokedAt ? `revoked ${c.revokedAt.toISOString()}` : 'active', c.description]),
          ),
        );
      }),
    );

  access
    .command('grant')
    .argument('<consumer>', 'the consumer')
    .argument('<target>', '<project>:<service|view> or <project>:<view>:<feature>')
    .option('--approved-by <name>', 'who approved it: required when the target covers restricted features (pii, or a restricted view)')
    .option('--kind <kind>', 'service or view, when the name is both', parseKind)
    .description('let a consumer read a feature service, a feature view or one feature of a project')
    .action(
      commandAction(async (consumerName: string, text: string, opts: { approvedBy?: string; kind?: GrantKind }, command: Command) => {
        const options = globalOptions(command);
        const { grant, covered } = await withAccess(options, async (registry, config) => {
          const target = await resolveTarget(config, text, opts.kind);
          const restricted = target.refs.filter((ref) => target.features.isRestricted(ref));
          if (restricted.length > 0 && !opts.approvedBy?.trim()) {
            throw new Error(
              `${text} covers restricted features (${restricted.map((r) => `'${r}'`).join(', ')}): a grant needs --approved-by NAME, recorded with it`,
            );
          }
          const grant = await registry.grant({ ...target.grant, consumer: consumerName, approvedBy: opts.approvedBy?.trim() || null }, actor());
          return { grant, covered: target.refs };
        });
        if (options.json) return printJson({ ...grant, features: covered });
        const approval = grant.approvedBy ? `, approved by ${grant.approvedBy}` : '';
        printLines(`granted ${text} (${KIND_LABEL[grant.kind]}, ${covered.length} feature${covered.length === 1 ? '' : 's'}${approval}) to '${consumerName}'`);
      }),
    );

  access
    .command('revoke')
    .argument('<consumer>', 'the consumer')
    .argument('<target>', '<project>:<service|view> or <project>:<view>:<feature>, as granted')
    .option('--kind <kind>', 'service or view, when the name is both', parseKind)
    .description('remove a grant')
    .action(
      commandAction(async (consumerName: string, text: string, opts: { kind?: GrantKind }, command: Command) => {
        const options = globalOptions(command);
        const removed = await withAccess(options, async (registry) => {
          const { project, name, feature } = splitTarget(text);
          const grants = (await registry.grants({ project, consumer: consumerName })).filter(
            (g) => g.name === name && (g.feature ?? null) === feature && (opts.kind === undefined || g.kind === opts.kind),
          );
          if (grants.length > 1) throw new Error(`${text} matches a service grant and a view grant; pass --kind service or --kind view`);
          if (!grants[0]) throw new Error(`'${consumerName}' has no grant ${text} (granary access list --consumer ${consumerName})`);
          return registry.revokeGrant(grants[0], actor());
        });
        if (options.json) return printJson({ consumer: consumerName, target: text, revoked: removed });
        printLines(`revoked ${text} from '${consumerName}': running servers refuse it within a second or two`);
        return EXIT_CODES.ok;
      }),
    );

  access
    .command('list')
    .option('--consumer <name>', 'only this consumer')
    .option('--all-projects', 'grants of every project, not only the configured one')
    .description('list grants: consumer, target, approval, and the restricted features each covers')
    .action(
      commandAction(async (opts: { consumer?: string; allProjects?: boolean }, command: Command) => {
        const options = globalOptions(command);
        const rows = await withAccess(options, async (registry, config) => {
          const grants = await registry.grants({ project: opts.allProjects ? undefined : config.project, consumer: opts.consumer });
          return Promise.all(grants.map(async (g) => ({ ...g, restricted: await restrictedOf(config, g) })));
        });
        if (options.json) return printJson(rows);
        printLines(
          formatTable(
            ['CONSUMER', 'TARGET', 'KIND', 'APPROVED BY', 'GRANTED', 'RESTRICTED FEATURES'],
            rows.map((g) => [g.consumer, grantTarget(g), g.kind, g.approvedBy ?? '-', g.grantedAt.toISOString(), g.restricted.join(', ') || '-']),
          ),
        );
      }),
    );

  access
    .command('history')
    .option('--consumer <name>', 'only this consumer')
    .description('every access change of the project: consumers created, tokens rotated, grants and revokes, who and when')
    .action(
      commandAction(async (opts: { consumer?: string }, command: Command) => {
        const options = globalOptions(command);
        const events = await withAccess(options, (registry, config) => registry.history({ project: config.project, consumer: opts.consumer }));
        if (options.json) return printJson(events);
        printLines(
          formatTable(
            ['AT', 'ACTION', 'CONSUMER', 'TARGET', 'APPROVED BY', 'BY'],
            events.map((e) => [e.at.toISOString(), e.action, e.consumer, e.target || '-', e.approvedBy ?? '-', e.actor]),
          ),
        );
      }),
    );

  access
    .command('audit')
    .option('--consumer <name>', 'only this consumer')
    .description('reads of restricted features, counted per consumer, read and minute (written by feature servers every few seconds)')
    .action(
      commandAction(async (opts: { consumer?: string }, command: Command) => {
        const options = globalOptions(command);
        const counts = await withAccess(options, (registry, config) => registry.restrictedReads({ project: config.project, consumer: opts.consumer }));
        if (options.json) return printJson(counts);
        printLines(formatTable(['MINUTE', 'CONSUMER', 'READ', 'COUNT'], counts.map((c) => [c.bucket.toISOString(), c.consumer, c.read, String(c.count)])));
      }),
    );
}

const KIND_LABEL: Record<GrantKind, string> = { service: 'feature service', view: 'feature view', feature: 'feature' };

async function withAccess<T>(options: GlobalOptions, fn: (registry: AccessRegistry, config: GranaryConfig) => Promise<T>): Promise<T> {
  const config = loadConfig({ repoDir: options.repo });
  const { PostgresAccessRegistry } = await import('../../stores/registry/postgres-access-registry.ts');
  const registry = new PostgresAccessRegistry({ url: config.registry.url });
  try {
    await registry.migrate();
    return await fn(registry, config);
  } finally {
    await registry.close();
  }
}

/** `project:name` or `project:view:feature`, as text. */
function splitTarget(text: string): { project: string; name: string; feature: string | null } {
  const parts = text.split(':');
  if ((parts.length !== 2 && parts.length !== 3) || parts.some((p) => !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(p))) {
    throw new Error(`'${text}' is not <project>:<service|view> or <project>:<view>:<feature>`);
  }
  return { project: parts[0]!, name: parts[1]!, feature: parts[2] ?? null };
}

/** The grant a target names, checked against the target project's registered definitions, and the features it covers now. */
async function resolveTarget(config: GranaryConfig, text: string, kind: GrantKind | undefined) {
  const { project, name, feature } = splitTarget(text);
  const features = await definitionFeatures(config, project);
  let resolved: GrantKind;
  if (feature !== null) {
    if (!features.hasView(name)) throw new Error(`project '${project}' has no feature view '${name}' (granary list --repo <its repo>)`);
    resolved = 'feature';
  } else {
    const isService = features.hasService(name) && kind !== 'view';
    const isView = features.hasView(name) && kind !== 'service';
    if (isService && isView) throw new Error(`'${name}' is both a feature service and a feature view of project '${project}'; pass --kind service or --kind view`);
    if (!isService && !isView) throw new Error(`project '${project}' has no ${kind === 'view' ? 'feature view' : kind === 'service' ? 'feature service' : 'feature service or feature view'} '${name}'`);
    resolved = isService ? 'service' : 'view';
  }
  const refs = features.targetRefs(resolved, name, feature);
  return { grant: { project, kind: resolved, name, feature }, refs, features };
}

async function restrictedOf(config: GranaryConfig, grant: Grant): Promise<string[]> {
  const features = await definitionFeatures(config, grant.project);
  try {
    return features.targetRefs(grant.kind, grant.name, grant.feature).filter((ref) => features.isRestricted(ref));
  } catch {
    return [];
  }
}

const featuresOf = new Map<string, Promise<import('../../access/definition-features.ts').DefinitionFeatures>>();
function definitionFeatures(config: GranaryConfig, project: string) {
  let found = featuresOf.get(project);
  if (!found) {
    found = (async () => {
      const { DefinitionFeatures } = await import('../../access/definition-features.ts');
      const { PostgresRegistry } = await import('../../stores/registry/postgres-registry.ts');
      const registry = new PostgresRegistry({ url: config.registry.url, project });
      try {
        return new DefinitionFeatures(await registry.listObjects());
      } finally {
        await registry.close();
      }
    })();
    featuresOf.set(project, found);
  }
  return found;
}

function checkName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,99}$/.test(name)) throw new Error(`consumer name '${name}' must be letters, digits, '_' or '-' (at most 100), starting with a letter or '_'`);
}

function parseGrace(text: string): number {
  const seconds = parseDurationSeconds(/^\d+$/.test(text) ? Number(text) : text);
  if (seconds === undefined || seconds < 0) throw new InvalidArgumentError(`must be a duration such as '1h', '30m' or '0s', got '${text}'`);
  return seconds;
}

function parseKind(text: string): GrantKind {
  if (text !== 'service' && text !== 'view') throw new InvalidArgumentError(`must be service or view, got '${text}'`);
  return text;
}

function actor(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
