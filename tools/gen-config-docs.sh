#!/bin/sh
# Regenerates docs/config.md and the README's configuration table from the key table in
# daemon/config/config_schema.c (via the scriptd-config-doc tool). tests/daemon checks they match.
#   tools/gen-config-docs.sh [BUILD_DIR]      default build dir: build
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ -d "$build" ] || meson setup "$build" >/dev/null
ninja -C "$build" daemon/scriptd-config-doc >/dev/null
"$build/daemon/scriptd-config-doc" > docs/config.md
table=$(mktemp)
"$build/daemon/scriptd-config-doc" --table > "$table"
# Replace what lies between the markers in README.md with the table.
awk -v table="$table" '
    /<!-- config-reference:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- config-reference:end -->/ { skip = 0 }
    !skip { print }
' README.md > README.md.tmp
mv README.md.tmp README.md
rm -f "$table"
echo "docs/config.md and README.md regenerated"
