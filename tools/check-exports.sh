#!/bin/sh
# Checks that a built libscriptprune exports exactly the functions its public headers declare with
# SP_API: no internal name leaks out, and nothing the headers promise is missing.
# Usage: check-exports.sh NM LIBRARY INCLUDE_DIR
set -eu
export LC_ALL=C # sort and comm must agree on the order
nm=$1
lib=$2
inc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Defined dynamic symbols; the address sanitizer's one-definition-rule indicators are not ours.
"$nm" -D --defined-only "$lib" | awk '{ print $3 }' | grep -v '^__odr_asan' | sort -u \
    >"$tmp/exported"
# Every name declared with SP_API (declarations may span lines, so the headers are read as one);
# api.h defines the macro and declares nothing.
for h in "$inc"/*.h; do
    [ "$(basename "$h")" = api.h ] || cat "$h"
done | tr '\n' ' ' | grep -o 'SP_API[^;(]*(' | grep -o '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*($' |
    tr -d '( ' | sort -u >"$tmp/declared"

status=0
if [ ! -s "$tmp/declared" ]; then
    echo "no SP_API declarations found under $inc" >&2
    exit 1
fi
leaked=$(comm -23 "$tmp/exported" "$tmp/declared")
if [ -n "$leaked" ]; then
    echo "exported by $lib but not declared SP_API in $inc:" >&2
    echo "$leaked" | sed 's/^/  /' >&2
    status=1
fi
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$missing" ]; then
    echo "declared SP_API in $inc but not exported by $lib:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    status=1
fi
bad=$(grep -v '^sp_' "$tmp/exported" || true)
if [ -n "$bad" ]; then
    echo "exported names outside the sp_ prefix:" >&2
    echo "$bad" | sed 's/^/  /' >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "$(wc -l <"$tmp/exported") exported functions, all declared SP_API"
exit "$status"
