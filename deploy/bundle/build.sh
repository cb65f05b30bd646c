#!/usr/bin/env bash
# Build the signed OPA bundle of the routing policy.
#
# The policy folder is already laid out as OPA loads a bundle (router/*.rego, and
# tenants/data.json at data.tenants, exactly as the embedded engine loads it), so it
# is staged as it is, tests left out. The manifest claims its top-level folders as
# roots, so no other bundle can overwrite them, and carries the revision every
# decision reports as bundle:<name>@<revision>.
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
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$signing_key" ]]; then
  echo "build.sh: --signing-key PEM is required (an RSA private key; see deploy/README.md)" >&2
  exit 2
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

roots=""
for dir in "$policies"/*/; do
  name="$(basename "$dir")"
  mkdir "$stage/$name"
  find "$dir" -maxdepth 1 -type f \( -name '*.rego' ! -name '*_test.rego' -o -name data.json \) \
    -exec cp {} "$stage/$name/" \;
  roots="${roots:+$roots,}\"$name\""
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
