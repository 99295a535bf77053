#!/usr/bin/env bash
# make run: taskgate end to end on this machine, in the foreground.
#
# Starts the local Kubernetes control plane (etcd, kube-apiserver, controller
# manager, scheduler, kwok fake nodes), two simulated Middle Managers, a
# stand-in for peons (kwok pods run nothing, so peonsim writes status.json
# as a peon would), and the gateway in k8sAndWorker mode with the taskType
# strategy of configs/local.properties. Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
addr=${TASKGATE_LISTEN:-127.0.0.1:8088}
props=${TASKGATE_CONFIG:-configs/local.properties}
mkdir -p var/run var/tasklogs
pids=()
cleanup() {
	trap - EXIT INT TERM
	echo "make run: stopping"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	./hack/cluster-down.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

echo "make run: starting the local control plane (kubeconfig: .cluster/kubeconfig)"
./hack/cluster-up.sh >var/run/cluster-up.log 2>&1 || { cat var/run/cluster-up.log; exit 1; }
kubeconfig=$root/.cluster/kubeconfig

for port in 8091 8092; do
	./bin/mmsim --listen "127.0.0.1:$port" --capacity 2 --task-log-dir var/tasklogs >"var/run/mmsim-$port.log" 2>&1 &
	pids+=($!)
done
./bin/peonsim --kubeconfig "$kubeconfig" --namespace default --task-log-dir var/tasklogs >var/run/peonsim.log 2>&1 &
pids+=($!)

cat <<MSG

taskgate is starting on http://$addr with $props
  Kubernetes runner: Jobs in namespace "default" (kubectl --kubeconfig .cluster/kubeconfig get jobs,pods)
  Middle Manager runner: simulated Middle Managers on 127.0.0.1:8091 and :8092
Try, in another shell:

  curl -s -XPOST -H 'Content-Type: application/json' --data @configs/examples/index_parallel.json http://$addr/taskgate/v1/task
  curl -s -XPOST -H 'Content-Type: application/json' --data @configs/examples/index_kafka.json http://$addr/taskgate/v1/task
  curl -s 'http://$addr/taskgate/v1/tasks?state=known'        # each task with its runner (k8s or worker)
  curl -s 'http://$addr/taskgate/v1/changes?since=-1'        # then ?since=<counter>&timeout=30s to follow
  curl -s http://$addr/druid/indexer/v1/k8s/taskrunner/executionconfig
  curl -s -XPOST -H 'Content-Type: application/json' -H 'X-Druid-Author: me' --data '{"type":"taskType","default":"k8s","rules":[{"name":"kafka-canary","type":["index_kafka"],"percent":50}]}' http://$addr/druid/indexer/v1/k8s/taskrunner/routingconfig
  curl -s http://$addr/taskgate/v1/migration                     # per type and runner: counts, failure rate, p95
  curl -s http://$addr/taskgate/v1/capacity
  curl -s http://$addr/metrics | grep taskgate

Logs of the helpers are in var/run/. Ctrl-C stops everything.

MSG
./bin/gateway serve --config "$props" --kubeconfig "$kubeconfig" --listen "$addr" --log-format text &
gw=$!
pids+=($gw)
wait "$gw"
