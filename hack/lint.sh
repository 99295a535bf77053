#!/usr/bin/env bash
# gofmt check, go vet and staticcheck (built from the module proxy, cached).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting:"; echo "$unformatted"; exit 1
fi
go vet ./...
STATICCHECK_VERSION=v0.8.2
sc=${TASKGATE_CACHE:-$PWD/.cache}/tools/staticcheck-$STATICCHECK_VERSION
if [ ! -x "$sc" ]; then
	mkdir -p "$(dirname "$sc")"
	if GOBIN=$(dirname "$sc")/tmp-$$ go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"; then
		mv "$(dirname "$sc")/tmp-$$/staticcheck" "$sc"; rm -rf "$(dirname "$sc")/tmp-$$"
	else
		echo "staticcheck $STATICCHECK_VERSION did not install; skipping it"; exit 0
	fi
fi
"$sc" ./...
