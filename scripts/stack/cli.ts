import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { toStdout } from './instance.ts';
import { stackDown, stackStateDir, stackStatus, stackUp } from './shared-stack.ts';
import { stackEnvLines } from './stack-env.ts';
import { messageOf, StackError } from './stack-error.ts';

const USAGE = `usage: npm run stack -- <command>   (ports: GRANARY_STACK_*_PORT; folder: GRANARY_STACK_DIR)
  up               install what is missing, start the four services, wait until each answers
  down             stop the services that 'up' started
  status [--json]  each service: address, running or not, pid, started by granary or external
  env              export lines for a shell: eval "$(npm run -s stack -- env)"`;

/**
 * `npm run stack -- up | down | status | env`: the shared local stack from the command line
 * (shared-stack.ts). Exits 0, 2 on a usage error, 1 on a failure (its message, without a stack
 * trace unless GRANARY_DEBUG is set and it is not a StackError).
 *
 * @example
 *   npm run stack -- up               # install what is missing, start, wait until each answers
 *   npm run stack -- status --json    # each service: address, running, pid, started by whom
 *   eval "$(npm run -s stack -- env)" # export GRANARY_REDIS_URL=redis://127.0.0.1:16379 ...
 *   npm run stack -- down
 */
async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || rest.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const where = relative(process.cwd(), stackStateDir()) || stackStateDir();
  switch (command) {
    case 'up': {
      const t0 = performance.now();
      toStdout(`granary stack (${where})`);
      await stackUp();
      toStdout(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s; point Granary at it with: eval "$(npm run -s stack -- env)"`);
      return 0;
    }
    case 'down':
      toStdout(`granary stack (${where})`);
      await stackDown();
      return 0;
    case 'status': {
      const statuses = await stackStatus();
      if (values.json) toStdout(JSON.stringify(statuses, null, 2));
      else {
        for (const s of statuses) {
          const who = s.startedBy === 'granary' ? `pid ${s.pid}, started by granary` : s.startedBy === 'external' ? 'external' : '';
          toStdout(`  ${s.service.padEnd(9)} ${s.address.padEnd(16)} ${(s.running ? 'running' : s.pid !== null ? 'not answering' : 'not running').padEnd(8)} ${who}`.trimEnd());
        }
      }
      return 0;
    }
    case 'env':
      toStdout(stackEnvLines().join('\n'));
      return 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`stack: ${messageOf(error)}\n`);
    if (!(error instanceof StackError) && process.env.GRANARY_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
