#!/usr/bin/env bash
# Makes sure this machine can run Granary's scripts: Node.js >= 20.3, and node_modules installed
# from package-lock.json (when node_modules is missing or older than the lock file).
# Quiet and fast (a few milliseconds) when all is in place. Prints only to stderr, so
# `npm run -s stack -- env` stays clean.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
  printf 'granary: %s\n' "$@" >&2
  exit 1
}

if ! version=$(node --version 2>/dev/null); then
  fail "Node.js >= 20.3 is needed, and 'node' is not on PATH." \
    "Install Node.js 20 LTS or newer (https://nodejs.org/en/download, or a nodesource/distribution package)."
fi
version=${version#v}
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if ((major < 20 || (major == 20 && minor < 3))); then
  fail "Node.js >= 20.3 is needed (the Temporal SDK requires it); this is $version at $(command -v node)." \
    "Install Node.js 20 LTS or newer and retry."
fi

stamp=node_modules/.package-lock.json
if [[ -f $stamp && ! package-lock.json -nt $stamp ]]; then
  exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm is not on PATH (it ships with Node.js)."
mkdir -p .granary
exec 9>.granary/bootstrap.lock
flock 9 2>/dev/null || true # another bootstrap may be installing right now: wait for it
if [[ -f $stamp && ! package-lock.json -nt $stamp ]]; then
  exit 0
fi
# npm install, not npm ci: npm ci refuses a lock file that merely lacks other platforms' optional
# packages (npm bug 4828: @swc/core-darwin-* and the like, which this registry mirror does not
# list), while npm install accepts it and still installs the locked versions.
echo "granary: installing node_modules (npm install from package-lock.json)..." >&2
npm install --no-audit --no-fund >.granary/npm-install.log 2>&1 ||
  { tail -n 20 .granary/npm-install.log >&2; fail "npm install failed (all of it in .granary/npm-install.log)."; }
touch "$stamp"
