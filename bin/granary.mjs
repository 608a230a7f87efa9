#!/usr/bin/env node
// The `granary` command: registers tsx so the TypeScript sources run as they are (no build
// step), then runs the CLI. Paths resolve from this file, so it works from any folder.
import process from 'node:process';
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
let main;
try {
  ({ main } = await import(new URL('../cli/main.ts', import.meta.url).href));
} catch (error) {
  // The CLI itself failed to load (a broken import): still one line, unless debugging.
  process.stderr.write(`error: granary failed to start: ${error?.message ?? error}\n`);
  if (process.env.GRANARY_DEBUG === '1') process.stderr.write(`${error?.stack ?? ''}\n`);
  process.exit(1);
}
await main(process.argv);
