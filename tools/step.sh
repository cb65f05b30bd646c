#!/usr/bin/env bash
# One line per long `make` step: what it does and how long it takes the first time,
# then how long it took. The command's own output (errors, mostly) follows the line.
#   tools/step.sh "what" "~2 min" command [args...]
set -uo pipefail
what=$1 estimate=$2
shift 2
printf '==> %s (first run %s) ... ' "$what" "$estimate"
start=$SECONDS
"$@"
status=$?
took=$((SECONDS - start))
if ((status == 0)); then
	printf 'done in %dm%02ds\n' $((took / 60)) $((took % 60))
else
	printf '\n==> %s failed after %dm%02ds (exit %d)\n' "$what" $((took / 60)) $((took % 60)) "$status"
fi
exit "$status"
