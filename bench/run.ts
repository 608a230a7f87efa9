/**
 * `npm run bench -- <name> [args...]`: runs bench/<name>.ts after bringing the local stack up.
 * Each benchmark prints JSON: its figure next to a reference measured in the same run.
 *
 * @example
 *   npm run bench -- online-write
 *   npm run bench -- materialize --repetitions 3
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stackEnv, stackUp } from '../scripts/stack/index.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
const [name, ...rest] = process.argv.slice(2);

if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [args]; benchmarks: ${available.join(', ')}`);
  process.exit(1);
}
await stackUp({ log: (line) => process.stderr.write(`${line}\n`) }); // stdout is the benchmark's JSON alone
Object.assign(process.env, stackEnv());
process.argv = [process.argv[0]!, `${here}${name}.ts`, ...rest];
await import(`./${name}.ts`);
