#!/bin/sh
# Builds the libFuzzer targets (fuzz/) with clang and runs each for SECONDS seconds.
#   tools/fuzz.sh [SECONDS] [TARGET...]      (default 60 s, every target)
# Build dir build-fuzz/ (clang, -Dfuzz=true, ASan + UBSan); working corpora in
# build-fuzz/corpus/TARGET (seeded by fuzz/gen_seeds.py, kept between runs, so longer runs build
# on earlier ones; FUZZ_CORPUS_DIR overrides); crash inputs in build-fuzz/crashes/.
# Prints one JSON line per target: {"target", "execs", "crashes", "seconds"}; with FUZZ_TESTLOG
# set, also appends one meson-style {"name", "result"} line per target to that file (tools/test.sh
# counts them). Exits 1 when a target crashed (or failed to run), 2 when it could not build.
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
JOBS=${JOBS:-2}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
CORPUS=${FUZZ_CORPUS_DIR:-$BUILD/corpus}
CRASHES=$BUILD/crashes
ALL="npy safetensors json wire clip-config config image http"
TARGETS=${*:-$ALL}

CC_FUZZ=${CC_FUZZ:-}
if [ -z "$CC_FUZZ" ]; then
    for c in clang clang-14; do
        if command -v "$c" >/dev/null 2>&1; then CC_FUZZ=$c; break; fi
    done
fi
if [ -z "$CC_FUZZ" ]; then
    echo "fuzz: clang not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
    exit 2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
    CC=$CC_FUZZ meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false >"$BUILD.setup.log" 2>&1 || {
        cat "$BUILD.setup.log" >&2; echo "fuzz: meson setup failed" >&2; exit 2; }
    rm -f "$BUILD.setup.log"
fi
ninja_targets=""
for t in $TARGETS; do ninja_targets="$ninja_targets fuzz/fuzz-$t"; done
# shellcheck disable=SC2086
ninja -C "$BUILD" -j "$JOBS" $ninja_targets >"$BUILD/fuzz-build.log" 2>&1 || {
    tail -40 "$BUILD/fuzz-build.log" >&2; echo "fuzz: build failed" >&2; exit 2; }

seeds=$BUILD/seeds
rm -rf "$seeds"
/usr/bin/python3 fuzz/gen_seeds.py "$seeds" . || { echo "fuzz: seed generation failed" >&2; exit 2; }
mkdir -p "$CRASHES"

# GLib's slice allocator hides allocations from the leak checker; the suppressions cover the
# caches GLib and GObject keep for the life of the process (what stays reachable is no leak).
export G_SLICE=always-malloc
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$(pwd)/fuzz/lsan.supp:print_suppressions=0"
export OPENBLAS_NUM_THREADS=1

status=0
for t in $TARGETS; do
    bin=$BUILD/fuzz/fuzz-$t
    mkdir -p "$CORPUS/$t"
    log=$BUILD/fuzz-$t.log
    before=$(ls "$CRASHES" | wc -l)
    start=$(date +%s)
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=4096 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$CRASHES/$t-" \
        "$CORPUS/$t" "$seeds/$t" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    crashes=$(( $(ls "$CRASHES" | wc -l) - before ))
    if [ $rc -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # died without saving an input (e.g. in initialisation): see the log
    fi
    printf '{"target": "fuzz-%s", "execs": %s, "crashes": %d, "seconds": %d}\n' \
        "$t" "${execs:-0}" "$crashes" "$((end - start))"
    result=OK
    if [ "$crashes" -ne 0 ]; then
        result=FAIL
        status=1
        echo "fuzz-$t: exit status $rc; log $log; inputs in $CRASHES/$t-*" >&2
        grep -m1 -E "^==[0-9]+==ERROR|^SUMMARY|property violated|runtime error" "$log" >&2
    fi
    if [ -n "${FUZZ_TESTLOG:-}" ]; then
        printf '{"name": "fuzz-%s (%ss)", "result": "%s"}\n' "$t" "$SECONDS_EACH" "$result" \
            >>"$FUZZ_TESTLOG"
    fi
done
exit $status
