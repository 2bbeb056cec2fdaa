#!/bin/sh
# Benchmarks the FFmpeg sampler on a generated 1080p30 H.264 file (not committed; cached in
# bench/out/). Prints JSON lines (bench/bench_sampler.c).
#   bench/run_sampler.sh [SECONDS] [GOP_FRAMES]     defaults: 120 s, GOP 60 (a keyframe every 2 s)
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-120}
gop=${2:-60}
out=bench/out
mkdir -p "$out"
video="$out/sampler-1080p30-${seconds}s-g${gop}.mp4"
if [ ! -f "$video" ]; then
    if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libx264 '; then
        codec="-c:v libx264 -preset veryfast"
    else
        codec="-c:v mpeg4 -q:v 4"
    fi
    echo "generating $video" >&2
    # shellcheck disable=SC2086
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$seconds" \
        $codec -g "$gop" -pix_fmt yuv420p "$video.tmp.mp4"
    mv "$video.tmp.mp4" "$video"
fi
[ -x build/bench/bench-sampler ] || { meson setup build >/dev/null && ninja -C build bench/bench-sampler; }
printf '{"bench":"sampler_input","file":"%s","seconds":%s,"gop_frames":%s}\n' "$video" "$seconds" "$gop"
build/bench/bench-sampler "$video"
