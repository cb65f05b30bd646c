#!/usr/bin/env bash
# SeaweedFS from the Go module proxy into OUT. Its go.mod has replace directives, which
# `go install module@version` refuses, so the module's source is copied out of the module
# cache and built as the main module.
#   tools/build_weed.sh VERSION OUT
set -euo pipefail
version=$1 out=$2
src=$(go mod download -json "github.com/seaweedfs/seaweedfs@$version" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src"/. "$work"
chmod -R u+w "$work"
(cd "$work" && GOFLAGS=-mod=mod go build -o "$out" ./weed)
