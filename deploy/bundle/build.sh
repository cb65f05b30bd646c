#!/usr/bin/env bash
# Build the signed OPA bundle of the routing policy.
#
# OPA puts a data file at the path of its directory inside a bundle, so the policy
# folder is staged as the bundle's layout: router/*.rego (tests left out) and, for
# every policies/data/<stem>.json, <stem>/data.json, so tenants land at data.tenants
# exactly as the embedded engine loads them. The manifest claims those roots, so no
# other bundle can overwrite them, and carries the revision every decision reports
# as bundle:<name>@<revision>.
#
# Usage: deploy/bundle/build.sh --signing-key PEM [--key-id ID] [--revision REV]
#                               [--out FILE] [--policies DIR] [--opa BIN]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
policies="$repo/policies"
opa="$repo/tools/bin/opa"
out="$repo/var/bundle/router.tar.gz"
key_id="bundle-signing"
signing_key=""
revision=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --signing-key) signing_key="$2"; shift 2 ;;
    --key-id) key_id="$2"; shift 2 ;;
    --revision) revision="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --policies) policies="$2"; shift 2 ;;
    --opa) opa="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$signing_key" ]]; then
  echo "build.sh: --signing-key PEM is required (an RSA private key; see deploy/README.md)" >&2
  exit 2
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

mkdir "$stage/router"
roots='"router"'
for module in "$policies"/router/*.rego; do
  [[ "$module" == *_test.rego ]] || cp "$module" "$stage/router/"
done
for data in "$policies"/data/*.json; do
  [[ -e "$data" ]] || continue
  stem="$(basename "$data" .json)"
  mkdir "$stage/$stem"
  cp "$data" "$stage/$stem/data.json"
  roots="$roots,\"$stem\""
done

# Same content, same revision: a rebuild from an unchanged policy is recognisably unchanged.
if [[ -z "$revision" ]]; then
  revision="sha256-$(cd "$stage" && find . -type f -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-16)"
fi
printf '{"revision": "%s", "roots": [%s]}\n' "$revision" "$roots" > "$stage/.manifest"

mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
signing_key="$(cd "$(dirname "$signing_key")" && pwd)/$(basename "$signing_key")"
# Paths in the bundle (and in its signature) are relative to the bundle root.
(cd "$stage" && "$opa" build --bundle . \
  --signing-key "$signing_key" --signing-alg RS256 --verification-key-id "$key_id" \
  --revision "$revision" --output "$out")
echo "$out revision=$revision key_id=$key_id"
