#!/bin/sh
# Installs a build into a scratch directory (meson install --destdir) and builds a small program
# against the installed libscriptprune with nothing but `pkg-config --cflags --libs scriptprune`
# (and the scratch prefix), then runs it against the installed shared library.
# Usage: check-pkgconfig.sh BUILD_DIR PREFIX LIBDIR CC PROGRAM.c [EXTRA_CFLAGS...]
#   PREFIX, LIBDIR: the build's install prefix and library directory (relative to PREFIX or not);
#   EXTRA_CFLAGS: e.g. the sanitizer flags a sanitized library needs in the program too.
set -eu
build=$1
prefix=$2
libdir=$3
cc=$4
program=$5
shift 5
case $libdir in
    /*) ;;
    *) libdir=$prefix/$libdir ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

meson install -C "$build" --no-rebuild --quiet --destdir "$dest" --tags runtime,devel >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log" >&2
    echo "meson install --destdir failed" >&2
    exit 1
}
pcdir=$dest$libdir/pkgconfig
if [ ! -f "$pcdir/scriptprune.pc" ]; then
    echo "scriptprune.pc was not installed under $libdir/pkgconfig" >&2
    exit 1
fi

# The installed .pc file names its directories from ${prefix}: moving the prefix into the scratch
# root points -I and -L there, while the system's own .pc files (openblas) stay as they are.
export PKG_CONFIG_PATH="$pcdir"
cflags=$(pkg-config --define-variable=prefix="$dest$prefix" --cflags scriptprune)
libs=$(pkg-config --define-variable=prefix="$dest$prefix" --libs scriptprune)
echo "pkg-config: $cflags $libs"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror "$@" $cflags -o "$tmp/consumer" "$program" $libs
LD_LIBRARY_PATH="$dest$libdir" "$tmp/consumer"
