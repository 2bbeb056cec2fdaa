#!/bin/sh
# Runs scriptd once over your own video and exits: the README's "run it on your own video" line.
#   tools/run-video.sh VIDEO [OUTDIR] [QUERY_IMAGE]
# VIDEO is any file scriptd's FFmpeg sampler reads (MP4/MOV, Matroska/WebM, AVI, MPEG-TS, ...),
# of any frame size. It is sampled at $FPS frames per second (default 2), each frame is turned
# into tokens by the built-in patch encoder (no weights), and Script keeps the tokens that matter
# in windows of 8 sampled frames. OUTDIR (default: the video's name with "-scriptd", in the
# current directory) receives
#   tokens/*.safetensors   the pruned tokens of each window (tokens, pts, frame, yx)
#   overlay/*.png          each frame that completed a window, the tokens sent outlined
#   scriptd.yaml           the config it ran (a starting point for your own)
# and scriptd's summary is printed. QUERY_IMAGE (PNG or JPEG, a picture of what you look for)
# steers what is kept. The exit status is scriptd's: 0 done, 1 when the video could not be read
# whole or gave no frame.
# The build directory is $SCRIPTD_BUILD, default build/ of this checkout; when it has no scriptd
# yet, tools/deps.sh installs what is missing and meson builds it first.
set -eu
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    echo "usage: $0 VIDEO [OUTDIR] [QUERY_IMAGE]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
video=$(abspath "$1")
if [ ! -r "$video" ]; then
    echo "$0: cannot read $1" >&2
    exit 2
fi
name=$(basename "$video")
out=$(abspath "${2:-${name%.*}-scriptd}")
query=""
[ $# -lt 3 ] || query=$(abspath "$3")

build=${SCRIPTD_BUILD:-}
if [ -z "$build" ]; then
    build=$here/build
    if [ ! -x "$build/daemon/scriptd" ]; then
        "$here/tools/deps.sh"
        [ -f "$build/build.ninja" ] || meson setup "$build" "$here"
        ninja -C "$build"
    fi
fi

# YAML double-quoted strings: backslashes and quotes escaped.
q() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
# Earlier outputs of this tool are replaced; any other non-empty directory is left alone.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/scriptd.yaml" ]; then
    echo "$0: $out exists and is not an output of this tool; name another OUTDIR" >&2
    exit 2
fi
mkdir -p "$out"
rm -rf "$out/tokens" "$out/overlay"
{
    echo 'server: {listen: "127.0.0.1:0", log_format: plain, log_level: warning}   # any free port'
    echo 'streams:'
    echo '  - id: video'
    echo "    file: $(q "$video")"
    echo "    fps: ${FPS:-2}"
    [ -z "$query" ] || echo "    query: {image: $(q "$query")}"
    echo '    sinks:'
    echo "      - safetensors_dir: $(q "$out/tokens")"
    echo "      - overlay_dir: $(q "$out/overlay")"
} > "$out/scriptd.yaml"

status=0
GST_PLUGIN_PATH_1_0=$build/gst-plugin "$build/daemon/scriptd" -c "$out/scriptd.yaml" \
    --exit-when-done || status=$?
echo "tokens:  $out/tokens/ ($(ls "$out/tokens" 2>/dev/null | wc -l) safetensors files;" \
    "read one with $build/core/cli/scriptprune inspect FILE)"
echo "overlay: $out/overlay/ ($(ls "$out/overlay" 2>/dev/null | wc -l) PNG files)"
exit $status
