#!/usr/bin/env bash
# Starts the local test control plane in the background (see docs/testing.md):
# kubeconfig in .cluster/kubeconfig, logs in .cluster/data/logs/.
# Extra arguments go to `testcluster up`, e.g. --nodes 3.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export TASKGATE_CACHE=${TASKGATE_CACHE:-$root/.cache}
./hack/cluster-bins.sh
bin=$TASKGATE_CACHE/tools/testcluster
go build -o "$bin" ./internal/testcluster/cmd/testcluster
exec "$bin" up --dir "$root/.cluster" "$@"
