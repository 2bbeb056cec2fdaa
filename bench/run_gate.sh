#!/bin/sh
# The change gate before the encoder on 1080p H.264 (bench-gate, bench/bench_gate.c), one JSON
# line per scene and sampling rate:
#   still  fixed camera, sensor noise, a person-sized object crossing during 10% of the time
#   pan    the same scene panned at 48 px/s
#   demo   the demo clip (tools/gen-sample-video.sh, four objects always moving), scaled to 1080p
# The frames of still and pan are generated in C (bench-gate make) and encoded with libx264
# (veryfast, CRF 23, 10 frames/s, a keyframe every 2 s); every clip is then decoded by ffmpeg at
# 1 and 2 frames/s into bench-gate run, which encodes with CLIP ViT-B/16 (random weights). The
# decode (ffmpeg decoding every frame of the clip and converting the sampled ones to RGB) is timed
# on its own, once per rate, and reported as decode_s; rtf_e2e_* adds it.
#   bench/run_gate.sh [BUILD_DIR] [SECONDS] [OUT.jsonl]     defaults: build, 60, stdout only
# SECONDS sets every clip's length (the full benchmark: 60; a short run: 20).
# $ff and $x264 are option lists: word splitting is meant.
# shellcheck disable=SC2086
set -eu
build=${1:-build}
seconds=${2:-60}
out=${3:-}
rate=10
bin="$build/bench/bench-gate"
[ -x "$bin" ] || { echo "run_gate.sh: build $bin first (ninja -C $build bench/bench-gate)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x264="-c:v libx264 -preset veryfast -crf 23 -g 20 -pix_fmt yuv420p"
ff="ffmpeg -nostdin -hide_banner -loglevel error -y"

for scene in still pan; do
        nice "$bin" make --scene $scene --seconds "$seconds" --rate $rate |
        nice $ff -f rawvideo -pix_fmt rgb24 -s 1920x1080 -r $rate -i - $x264 "$tmp/$scene.mp4"
done
tools/gen-sample-video.sh "$tmp/demo-src.mp4" >/dev/null
nice $ff -stream_loop -1 -i "$tmp/demo-src.mp4" -t "$seconds" \
    -vf "scale=1920:1080,fps=$rate" $x264 "$tmp/demo.mp4"

now() { date +%s.%N; }
for scene in still pan demo; do
    for fps in 1 2; do
        t0=$(now)
        nice $ff -i "$tmp/$scene.mp4" -vf "fps=$fps" -f rawvideo -pix_fmt rgb24 - >/dev/null
        t1=$(now)
        decode=$(echo "$t1 - $t0" | bc)
        line=$(nice $ff -i "$tmp/$scene.mp4" -vf "fps=$fps" -f rawvideo -pix_fmt rgb24 - |
            nice "$bin" run --scene $scene --fps $fps --seconds "$seconds" --decode-s "$decode")
        echo "$line"
        [ -z "$out" ] || echo "$line" >> "$out"
    done
done
