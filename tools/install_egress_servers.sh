#!/usr/bin/env bash
# The real egress servers the tests run against, from Debian's packages when missing:
# squid (an HTTP proxy: CONNECT tunnels, basic auth) and nginx (a TLS front for a fake
# provider). The tests start their own instances with their own configs; the packages'
# services are not started (no init system here, and a policy-rc.d may forbid it).
set -euo pipefail
missing=()
command -v squid >/dev/null || [ -x /usr/sbin/squid ] || missing+=(squid)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
