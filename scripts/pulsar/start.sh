#!/usr/bin/env bash
# Starts Apache Pulsar standalone (from Maven Central artifacts, no Docker, no tarball) in a fresh
# work folder, waits until it serves `public/default`, and prints the WS and admin URLs.
#
#   scripts/pulsar/start.sh                 # plain
#   PULSAR_CONF_EXTRA=/path/extra.conf scripts/pulsar/start.sh   # appended to standalone.conf (e.g. auth)
#   PULSAR_CRYPTO_KEYS_DIR=/path/keys scripts/pulsar/start.sh     # WebSocket encryption with these keys
#
# With PULSAR_CRYPTO_KEYS_DIR, the project's CryptoKeyReaderFactory (crypto/*.java) is compiled with
# javac against the resolved classpath and configured as cryptoKeyReaderFactoryClassName; it reads
# public-key.<name> / private-key.<name> from that directory.
#
# Env: PULSAR_WORK (default /tmp/pulsar-ws-streams-pulsar), PULSAR_WEB_PORT (8080),
# PULSAR_BROKER_PORT (6650), PULSAR_START_TIMEOUT (seconds, 240), ADMIN_TOKEN (for readiness with auth).
# Stop with scripts/pulsar/stop.sh (same PULSAR_WORK).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${PULSAR_WORK:-/tmp/pulsar-ws-streams-pulsar}"
WEB_PORT="${PULSAR_WEB_PORT:-8080}"
BROKER_PORT="${PULSAR_BROKER_PORT:-6650}"
BOOKIE_PORT="${PULSAR_BOOKIE_PORT:-3181}"
TIMEOUT="${PULSAR_START_TIMEOUT:-240}"

if [ -f "$WORK/pulsar.pid" ] && kill -0 "$(cat "$WORK/pulsar.pid")" 2>/dev/null; then
  echo "start.sh: a Pulsar from $WORK is still running (pid $(cat "$WORK/pulsar.pid")); run stop.sh first" >&2
  exit 1
fi
rm -rf "$WORK"
mkdir -p "$WORK"

echo "start.sh: resolving the Pulsar classpath with Maven" >&2
mvn -B -q -s "$HERE/settings.xml" -f "$HERE/pom.xml" dependency:build-classpath \
  -Dmdep.outputFile="$WORK/cp.txt" -Dmdep.includeScope=runtime >&2

CLASSPATH_EXTRA=""
CRYPTO_OPTS=()
if [ -n "${PULSAR_CRYPTO_KEYS_DIR:-}" ]; then
  echo "start.sh: compiling the CryptoKeyReaderFactory (keys in $PULSAR_CRYPTO_KEYS_DIR)" >&2
  mkdir -p "$WORK/crypto-classes"
  javac -nowarn -d "$WORK/crypto-classes" -cp "$(cat "$WORK/cp.txt")" "$HERE"/crypto/*.java >&2
  CLASSPATH_EXTRA="$WORK/crypto-classes:"
  CRYPTO_OPTS=(-Dpulsarws.crypto.keysDir="$PULSAR_CRYPTO_KEYS_DIR")
fi

# The config: ours, with the ports of this run and any extra keys (auth) appended.
{
  cat "$HERE/standalone.conf"
  echo "webServicePort=$WEB_PORT"
  echo "brokerServicePort=$BROKER_PORT"
  echo "bookiePort=$BOOKIE_PORT"
  if [ -n "${PULSAR_CRYPTO_KEYS_DIR:-}" ]; then
    # Not a typed ServiceConfiguration field: the WebSocket service reads it from the properties.
    echo "cryptoKeyReaderFactoryClassName=pulsarws.ci.PulsarWsCryptoKeyReaderFactory"
  fi
  if [ -n "${PULSAR_CONF_EXTRA:-}" ]; then cat "$PULSAR_CONF_EXTRA"; fi
} >"$WORK/standalone.conf"

JVM_OPTS=(
  -Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g
  -XX:+UseG1GC -XX:MaxGCPauseMillis=10 -XX:+ParallelRefProcEnabled -XX:+DisableExplicitGC
  -XX:+ExitOnOutOfMemoryError -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1
  -Dio.netty.tryReflectionSetAccessible=true -Djute.maxbuffer=10485760 -Djava.net.preferIPv4Stack=true
  --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.util.zip=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED
  --add-opens java.base/sun.net=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED
  -Dbookkeeper.metadata.bookie.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver
  -Dbookkeeper.metadata.client.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver
  -Dpulsar.allocator.exit_on_oom=true -Dio.netty.recycler.maxCapacityPerThread=4096
  -Dlog4j2.configurationFile="$HERE/log4j2.xml" -Dlog4j.shutdownHookEnabled=false
)

# A fresh working directory, so no stray data/standalone/zookeeper switches the metadata mode.
cd "$WORK"
started=$(date +%s)
java "${JVM_OPTS[@]}" "${CRYPTO_OPTS[@]}" -cp "$CLASSPATH_EXTRA$(cat "$WORK/cp.txt")" org.apache.pulsar.PulsarStandaloneStarter \
  --config "$WORK/standalone.conf" -nfw -nss \
  --metadata-dir "$WORK/metadata" --bookkeeper-dir "$WORK/bookkeeper" --bookkeeper-port "$BOOKIE_PORT" \
  >"$WORK/pulsar.log" 2>&1 </dev/null &
echo $! >"$WORK/pulsar.pid"

AUTH=()
if [ -n "${ADMIN_TOKEN:-}" ]; then AUTH=(-H "Authorization: Bearer $ADMIN_TOKEN"); fi
ADMIN_URL="http://127.0.0.1:$WEB_PORT"
for _ in $(seq 1 "$TIMEOUT"); do
  if curl -sf "${AUTH[@]}" "$ADMIN_URL/admin/v2/namespaces/public" 2>/dev/null | grep -q 'public/default'; then
    echo "start.sh: Pulsar ready after $(($(date +%s) - started)) s (pid $(cat "$WORK/pulsar.pid"), log $WORK/pulsar.log)" >&2
    echo "PULSAR_WS_URL=ws://127.0.0.1:$WEB_PORT"
    echo "PULSAR_ADMIN_URL=$ADMIN_URL"
    exit 0
  fi
  if ! kill -0 "$(cat "$WORK/pulsar.pid")" 2>/dev/null; then
    echo "start.sh: Pulsar exited during start-up; last log lines:" >&2
    tail -60 "$WORK/pulsar.log" >&2
    exit 1
  fi
  sleep 1
done
echo "start.sh: Pulsar not ready within $TIMEOUT s; last log lines:" >&2
tail -100 "$WORK/pulsar.log" >&2
"$HERE/stop.sh" || true
exit 1
