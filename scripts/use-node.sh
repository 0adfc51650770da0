# shellcheck shell=bash
# Puts a current Node.js (>= 22.15) on PATH for this shell. Source it, don't run it:
#
#   source scripts/use-node.sh
#
# If the machine's own `node` is already >= 22.15 nothing changes. Otherwise Node 24 LTS is installed
# from the npm registry's `node` package (it ships the official binary as a registry package, so no
# other download site is needed) into .tools/node/ beside this script's repository, once, and that
# directory's bin is put first on PATH. npm itself is a Node script, so it then runs on Node 24 too.

PWS_NODE_VERSION="${PWS_NODE_VERSION:-24.21.0}"
# 22.15 brought process.execve (the bin's heap flags) and a flagless node:sqlite (the data-dir lock).
PWS_MIN_NODE_MAJOR=22
PWS_MIN_NODE_MINOR=15

_pws_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_pws_node_prefix="$_pws_repo_root/.tools/node"
_pws_node_bin="$_pws_node_prefix/node_modules/node/bin"

# The machine's node as major*1000+minor (0 when there is none).
_pws_node_level() {
  "$1" -p 'const [major, minor] = process.versions.node.split(".").map(Number); major * 1000 + minor' 2>/dev/null || echo 0
}

if [ "$(_pws_node_level node)" -ge "$((PWS_MIN_NODE_MAJOR * 1000 + PWS_MIN_NODE_MINOR))" ]; then
  :
else
  if [ ! -x "$_pws_node_bin/node" ] || [ "$("$_pws_node_bin/node" --version)" != "v$PWS_NODE_VERSION" ]; then
    echo "use-node: installing node@$PWS_NODE_VERSION from the npm registry into $_pws_node_prefix" >&2
    mkdir -p "$_pws_node_prefix"
    # --prefix keeps it out of the project's own node_modules and package.json.
    npm install --prefix "$_pws_node_prefix" --no-save --no-audit --no-fund --loglevel=error \
      "node@$PWS_NODE_VERSION" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_pws_node_bin:$PATH"
  hash -r
fi
echo "use-node: $(command -v node) $(node --version)" >&2
unset -f _pws_node_level
unset _pws_repo_root _pws_node_prefix _pws_node_bin
