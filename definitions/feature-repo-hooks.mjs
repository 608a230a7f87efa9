// Module resolution hooks for feature repos, registered once by loadFeatureRepo (feature-repo.ts)
// with node:module register(). They let a feature repo kept anywhere (its own git repository,
// a temporary folder) load without a package.json and without granary installed next to it:
//
// - `import ... from 'granary'` resolves to the definition language (definitions/index.ts) of the
//   installation running the command, so the repo's definitions are made by the same code that
//   checks and applies them;
// - a TypeScript file outside this installation and outside node_modules, imported by a path
//   (the repo's files and what they import relatively: './x', './x.ts', './x.js' for x.ts,
//   './dir' for dir/index.ts), loads as an ES module whatever the nearest package.json says.
//   (tsx alone takes the format from the nearest package.json: with none, or one without
//   "type": "module", it compiles the file to CommonJS, whose imports then fail with
//   "Cannot require() ES Module ... in a cycle" or "Cannot find package 'granary'".)
//
// Everything else goes on to tsx's hooks (registered before these: hooks chain last in, first
// out). Plain JavaScript, not TypeScript: hooks run on Node's loader thread.
//
// Example: /home/me/features/user.ts holding `import { entity } from 'granary'`, with no
// package.json anywhere above it, loads with `granary plan --repo /home/me/features`.

import { statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL, URL } from 'node:url';

// The definition language only (not the package's index.ts, which adds the SDK): loading a repo
// must not load the SDK, which itself loads repos.
const GRANARY_INDEX = new URL('./index.ts', import.meta.url).href;
const INSTALLATION = fileURLToPath(new URL('..', import.meta.url));
const TYPESCRIPT = /\.(?:m?ts|tsx)$/;
const TS_EXTENSIONS = ['.ts', '.tsx', '.mts'];

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'granary') return nextResolve(GRANARY_INDEX, context);
  const file = isRequire(context) ? undefined : repoTypeScriptFile(specifier, context.parentURL);
  if (file !== undefined) return { url: pathToFileURL(file).href, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}

/** The TypeScript file a path specifier names, when it lies outside this installation and node_modules. */
function repoTypeScriptFile(specifier, parentURL) {
  let url;
  if (specifier.startsWith('file:')) url = new URL(specifier);
  else if (/^\.{0,2}\//.test(specifier) && parentURL?.startsWith('file:')) url = new URL(specifier, parentURL);
  else return undefined;
  if (url.search || url.hash) return undefined;
  const path = fileURLToPath(url);
  if (path.startsWith(INSTALLATION) || path.includes(`${sep}node_modules${sep}`)) return undefined;
  const found = candidates(path).find(isFile);
  return found !== undefined && TYPESCRIPT.test(found) ? found : undefined;
}

/** Where a path specifier may point, in the order TypeScript looks. */
function candidates(path) {
  if (TYPESCRIPT.test(path)) return [path];
  const js = /^(.*)\.(m?)js(x?)$/.exec(path);
  if (js) return [path, `${js[1]}.${js[2]}ts${js[3]}`];
  return [path, ...TS_EXTENSIONS.map((ext) => path + ext), ...TS_EXTENSIONS.map((ext) => join(path, `index${ext}`))];
}

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isRequire(context) {
  const conditions = context.conditions ?? [];
  return conditions.includes('require') && !conditions.includes('import');
}
