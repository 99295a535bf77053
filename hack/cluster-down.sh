#!/usr/bin/env bash
# Stops the local test control plane started by hack/cluster-up.sh; no
# process of it is left afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export TASKGATE_CACHE=${TASKGATE_CACHE:-$root/.cache}
bin=$TASKGATE_CACHE/tools/testcluster
go build -o "$bin" ./internal/testcluster/cmd/testcluster
exec "$bin" down --dir "$root/.cluster"
