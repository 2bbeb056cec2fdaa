#!/bin/sh
# Runs the scriptprune CLI under valgrind over every method, --out, and its error paths; fails on
# any memory error or definite/indirect leak (exit 99 from valgrind).
# usage: cli_valgrind.sh VALGRIND SCRIPTPRUNE PYTHON
set -eu
VALGRIND=$1
CLI=$2
PY=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export OPENBLAS_NUM_THREADS=1

"$PY" - "$tmp" <<'PYEOF'
import sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(1)
np.save(f"{d}/x.npy", rng.standard_normal((64, 16)).astype(np.float32))
np.save(f"{d}/x16.npy", rng.standard_normal((36, 8)).astype(np.float16))
np.save(f"{d}/e.npy", rng.standard_normal((64, 5)).astype(np.float32))
np.save(f"{d}/q.npy", rng.standard_normal((2, 5)).astype(np.float32))
bad = rng.standard_normal((9, 4)).astype(np.float32)
bad[3, 1] = np.nan
np.save(f"{d}/nan.npy", bad)
np.save(f"{d}/f64.npy", rng.standard_normal((4, 4)))
PYEOF

vg() {
    "$VALGRIND" --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --error-exitcode=99 "$CLI" "$@"
}

for m in script script-authors gsp qcsp random pool divprune tome; do
    vg select --tokens "$tmp/x.npy" --embeddings "$tmp/e.npy" --query "$tmp/q.npy" \
        --budget 10 --method "$m" --out "$tmp/o.safetensors" >/dev/null
    vg select --tokens "$tmp/o.safetensors:tokens" --budget 4 --method "$m" >/dev/null
done
vg select --tokens "$tmp/x16.npy" --budget 7 --graph full >/dev/null

# Bad input: exit status 2, a message, and still no leak or memory error.
expect_bad() {
    set +e
    vg "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    if [ "$rc" -ne 2 ]; then
        echo "expected exit 2 from: $*; got $rc"
        cat "$tmp/err"
        exit 1
    fi
    grep -q "scriptprune: error:" "$tmp/err"
}
expect_bad select --tokens "$tmp/missing.npy" --budget 3
expect_bad select --tokens "$tmp/nan.npy" --budget 3
expect_bad select --tokens "$tmp/f64.npy" --budget 3
expect_bad select --tokens "$tmp/x.npy" --budget 0
expect_bad select --tokens "$tmp/x.npy" --budget 3 --method nope
expect_bad select --tokens "$tmp/x.npy" --query "$tmp/q.npy" --budget 3
echo "cli under valgrind: clean"
