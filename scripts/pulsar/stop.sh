#!/usr/bin/env bash
# Stops the Pulsar standalone started by start.sh (same PULSAR_WORK): SIGTERM, then SIGKILL after 30 s.
set -euo pipefail
WORK="${PULSAR_WORK:-/tmp/pulsar-ws-streams-pulsar}"
[ -f "$WORK/pulsar.pid" ] || exit 0
pid="$(cat "$WORK/pulsar.pid")"
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: Pulsar (pid $pid) ignored SIGTERM for 30 s; killing it" >&2
    kill -9 "$pid"
  fi
fi
rm -f "$WORK/pulsar.pid"
