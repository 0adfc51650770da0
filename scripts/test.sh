#!/usr/bin/env bash
# `npm test` and `npm run test:pulsar`: prepares what the suites need on a machine as it comes, then
# runs Vitest with the arguments given (`npm test -- --outputFile.json=x.json`, or test files).
#
#   1. a current Node.js on PATH (scripts/use-node.sh: Node 24 into .tools/node when `node` is < 22);
#   2. dist/ built (the CLI, demo and crash suites run the built `pulsar-ws`);
#   3. the Python peers in .venv (websocket-client for the seed examples, pulsar-client for the
#      binary-protocol peer), when python3 can make a virtual environment;
#   4. VersityGW in .tools/bin for the S3 suites (scripts/s3/install.sh), when Go is there.
#
# Each step prints what it installs. A prerequisite that cannot be had (no python3, no Go) skips the
# suites that need it, with one line here saying what to install; everything else still runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test: %s\n' "$*" >&2; }

# shellcheck source=use-node.sh
source scripts/use-node.sh

say "building dist/ (npm run build)"
npm run --silent build

prepare_python() {
  if ! command -v python3 >/dev/null 2>&1; then
    say "SKIPPING the Python seed examples and peer: no python3 on PATH (install Python >= 3.9 with venv)"
    return
  fi
  if [ ! -x .venv/bin/python3 ]; then
    say "creating .venv (python3 -m venv)"
    if ! python3 -m venv .venv >&2; then
      rm -rf .venv
      say "SKIPPING the Python seed examples and peer: python3 cannot create a venv (install python3-venv)"
      return
    fi
  fi
  local package module
  for package in websocket-client pulsar-client; do
    module="${package%-client}"
    [ "$package" = websocket-client ] && module=websocket
    if .venv/bin/python3 -c "import $module" 2>/dev/null; then
      continue
    fi
    say "installing $package into .venv (pip)"
    if ! .venv/bin/python3 -m pip install --quiet --disable-pip-version-check "$package" >&2; then
      say "SKIPPING the suites that need the Python $package package: pip could not install it"
    fi
  done
  export PATH="$PWD/.venv/bin:$PATH"
  say "python3: $(command -v python3) ($(python3 --version 2>&1))"
}

prepare_versitygw() {
  if command -v go >/dev/null 2>&1; then
    scripts/s3/install.sh >&2
  elif [ -x .tools/bin/versitygw ]; then
    say "no Go on PATH; using the VersityGW already in .tools/bin"
  else
    say "SKIPPING the S3 suites and the S3 example: no Go on PATH to build VersityGW (install Go >= 1.22 from https://go.dev/dl/)"
  fi
}

prepare_python
prepare_versitygw

say "running vitest run $*"
exec node_modules/.bin/vitest run "$@"
