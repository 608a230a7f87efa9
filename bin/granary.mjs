#!/usr/bin/env node
// The `granary` command: registers tsx so the TypeScript sources run as they are (no build
// step), then runs the CLI. Paths resolve from this file, so it works from any folder.
import process from 'node:process';
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every start that its 2027 releases will need Node 22: not this
// command's concern, and noise on every command's stderr. A user's own setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A closed stdout or stderr (`granary list | head -1`, a worker whose log reader went away)
// must not kill the process with an unhandled EPIPE: a worker keeps working, a command finishes;
// what it would have printed is dropped. Other stream errors still surface.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error?.code === 'EPIPE' || error?.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}

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
