#!/usr/bin/env bash
# Installs VersityGW (an Apache-2.0 S3 gateway, posix backend) into .tools/bin with `go install`, for
# the S3 sink's tests. The tests start and stop it themselves (test/helpers/s3-server.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION="${VERSITYGW_VERSION:-v1.7.0}"
export GOBIN="$PWD/.tools/bin"
mkdir -p "$GOBIN"
# `go install` builds say "Version: git": a marker file records which version is there.
if [[ -x "$GOBIN/versitygw" && "$(cat "$GOBIN/versitygw.version" 2>/dev/null)" == "$VERSION" ]]; then
  echo "versitygw ${VERSION} already in $GOBIN"
  exit 0
fi
echo "building versitygw ${VERSION} with go install into $GOBIN (the first build downloads its modules: a few minutes)"
go install "github.com/versity/versitygw/cmd/versitygw@${VERSION}"
echo "$VERSION" >"$GOBIN/versitygw.version"
echo "installed versitygw ${VERSION} in $GOBIN"
