#!/bin/sh
# The README's main command (until the daemon lands, issue 6): installs what is missing, builds,
# and prunes a bundled example frame with the Script method and a query, printing what it kept.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
out=build/demo
/usr/bin/python3 tools/example_tokens.py "$out"
cli=build/core/cli/scriptprune
echo "== example frame: 576 tokens (24 x 24), D = 256; query = the look of object B"
echo "== script, budget 32, no query:"
"$cli" select --tokens "$out/tokens.npy" --budget 32
echo "== script, budget 32, with the query (object B sits at rows 18-19, columns 15-18):"
"$cli" select --tokens "$out/tokens.npy" --query "$out/query.npy" --budget 32 \
    --out "$out/kept.safetensors"
echo "== kept tokens written to $out/kept.safetensors (tokens, index, yx)"
