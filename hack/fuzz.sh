#!/usr/bin/env bash
# Runs every Go fuzz target in the module for $FUZZTIME each (default 20000x:
# an execution count, not a duration; a duration-bounded run can fail with
# "context deadline exceeded" when the machine is loaded).
# go test -fuzz takes one target in one package at a time, hence the loop.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20000x}
status=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"${line#*:}")
	pkg=./$(dirname "$file")
	echo "== fuzz $pkg $name ($FUZZTIME)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"; then
		status=1
	fi
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | grep -v '^./.cache/' | sed -E 's/^\.\/([^:]*):[0-9]+:/\1:/')
exit $status
