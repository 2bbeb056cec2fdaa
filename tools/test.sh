#!/bin/sh
# The README's test command: installs what is missing, builds, runs the whole test suite and
# ends with one line "N passed, N failed".
#   - build-asan/: every test, with AddressSanitizer and UndefinedBehaviorSanitizer
#   - build/:      the tests that need an uninstrumented build (valgrind on the CLI, gst-launch)
#   - build-lib/:  libscriptprune and the CLI alone (-Dgst_plugin=disabled -Ddaemon=disabled)
#   - build-fuzz/: when clang is installed, every libFuzzer target for FUZZ_SECONDS (default 10)
#                  seconds (tools/fuzz.sh); each target counts as one test. FUZZ_SECONDS=0 skips.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}

tools/deps.sh || { echo "deps: installing Debian packages failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
configure() { # dir, extra meson args...
    dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" || return 1
    fi
    ninja -C "$dir" -j "$JOBS"
}

if ! configure build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
    echo "build-asan: build failed"; echo "0 passed, 1 failed"; exit 1
fi
if ! configure build; then
    echo "build: build failed"; echo "0 passed, 1 failed"; exit 1
fi

# The library and CLI alone, on a pkg-config path that holds only OpenBLAS: a disabled part must
# not look up its dependencies.
minimal_pc=$(mktemp -d)
openblas_pc=$(pkg-config --variable=pcfiledir openblas)/openblas.pc
ln -s "$openblas_pc" "$minimal_pc/openblas.pc"
if ! PKG_CONFIG_LIBDIR=$minimal_pc configure build-lib -Dgst_plugin=disabled -Ddaemon=disabled \
        -Dtests=disabled; then
    echo "build-lib: the library-only build (OpenBLAS alone) failed"; status=1
fi
rm -rf "$minimal_pc"

meson test -C build-asan --num-processes "$JOBS" --print-errorlogs || status=1
meson test -C build --suite valgrind --suite gst-launch --num-processes "$JOBS" --print-errorlogs || status=1

logs="build-asan/meson-logs/testlog.json build/meson-logs/testlog.json"
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" -gt 0 ] && { command -v clang >/dev/null 2>&1 || command -v clang-14 >/dev/null 2>&1; }; then
    fuzz_log=build-fuzz/testlog-fuzz.json
    mkdir -p build-fuzz
    rm -f "$fuzz_log"
    FUZZ_TESTLOG=$fuzz_log JOBS=$JOBS tools/fuzz.sh "$FUZZ_SECONDS" || status=1
    # A build failure writes no line: count it as one failed test.
    [ -s "$fuzz_log" ] || echo '{"name": "fuzz targets (build)", "result": "FAIL"}' >"$fuzz_log"
    logs="$logs $fuzz_log"
else
    echo "fuzz: skipped (no clang, or FUZZ_SECONDS=0)"
fi

# shellcheck disable=SC2086
/usr/bin/python3 tools/test_summary.py $logs
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
