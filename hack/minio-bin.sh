#!/usr/bin/env bash
# Builds the pinned MinIO server (the S3-compatible server the tasklogs S3
# tests run against on loopback) from the Go module proxy into
# $TASKGATE_CACHE/minio/<version>/minio, once. A second run returns at once.
#
# MinIO publishes no semver tags to the module proxy, only pseudo-versions, so
# the pin is one: `GOFLAGS=-mod=mod go list -m -versions github.com/minio/minio`
# lists nothing; `go list -m github.com/minio/minio@latest` names the newest.
#
# Usage:
#   hack/minio-bin.sh         build if missing (what `make minio-bin` runs)
#   hack/minio-bin.sh path    print the binary's path (built or not)
#
# Environment: TASKGATE_CACHE (default <repo>/.cache), GO (default go).
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TASKGATE_CACHE:-$root/.cache}
GO=${GO:-go}
dir=$cache/minio/$MINIO_VERSION

build() {
	local log tmp start
	[ -x "$dir/minio" ] && return 0
	mkdir -p "$cache/minio"
	# Two runs at once (make and a test package, say) must not both build.
	exec 9>"$cache/minio/.lock"
	flock 9
	[ -x "$dir/minio" ] && return 0

	log=$cache/minio/build-$MINIO_VERSION.log
	tmp=$dir.tmp-$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	start=$(date +%s)
	echo "minio-bin: building MinIO $MINIO_VERSION (first time only, a minute or two; log: $log)"
	# `go install pkg@version` builds with MinIO's own go.mod and go.sum, outside
	# this module; GOWORK/GOFLAGS of the caller must not leak in. CGO off: a
	# static binary, as upstream ships.
	if ! (cd "$tmp" && CGO_ENABLED=0 GOWORK=off GOFLAGS= GOBIN="$tmp" \
		"$GO" install -trimpath -ldflags "-s -w" "github.com/minio/minio@$MINIO_VERSION") >"$log" 2>&1; then
		tail -n 30 "$log"
		echo "minio-bin: build of MinIO failed; full log: $log" >&2
		exit 1
	fi
	if [ ! -x "$tmp/minio" ]; then
		echo "minio-bin: minio missing after the build; log: $log" >&2
		exit 1
	fi
	"$tmp/minio" --version >>"$log" 2>&1 || true
	echo "seconds=$(($(date +%s) - start))" >>"$log"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
	echo "minio-bin: done in $(($(date +%s) - start)) s -> $dir/minio"
}

case ${1:-build} in
build) build ;;
path) echo "$dir/minio" ;;
*)
	echo "usage: $0 [build|path]" >&2
	exit 2
	;;
esac
