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
# Part `daemon`: scriptd itself (file source, FFmpeg sampler, scriptencode, scriptprune, 2 BLAS
# threads) on the still clip at 1 and 2 frames/s with the same ViT-B/16 written as a model folder,
# skip_unchanged true and false: elapsed_s (the stream's time from start to the end of the file,
# from --summary-json) and frames_encoded / frames_skipped, one JSON line per run.
#   bench/run_gate.sh [BUILD_DIR] [SECONDS] [OUT.jsonl] [PARTS]
#       defaults: build, 60, stdout only, core,daemon
# SECONDS sets every clip's length (the full benchmark: 60; a short run: 20).
# $ff and $x264 are option lists: word splitting is meant.
# shellcheck disable=SC2086
set -eu
build=${1:-build}
seconds=${2:-60}
out=${3:-}
parts=${4:-core,daemon}
rate=10
bin="$build/bench/bench-gate"
[ -x "$bin" ] || { echo "run_gate.sh: build $bin first (ninja -C $build bench/bench-gate)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x264="-c:v libx264 -preset veryfast -crf 23 -g 20 -pix_fmt yuv420p"
ff="ffmpeg -nostdin -hide_banner -loglevel error -y"

case ",$parts," in *,core,*) core_scenes="still pan demo" ;; *) core_scenes="" ;; esac
for scene in still ${core_scenes:+pan}; do
        nice "$bin" make --scene $scene --seconds "$seconds" --rate $rate |
        nice $ff -f rawvideo -pix_fmt rgb24 -s 1920x1080 -r $rate -i - $x264 "$tmp/$scene.mp4"
done
if [ -n "$core_scenes" ]; then
    tools/gen-sample-video.sh "$tmp/demo-src.mp4" >/dev/null
    nice $ff -stream_loop -1 -i "$tmp/demo-src.mp4" -t "$seconds" \
        -vf "scale=1920:1080,fps=$rate" $x264 "$tmp/demo.mp4"
fi

emit() {
    echo "$1"
    [ -z "$out" ] || echo "$1" >> "$out"
}
now() { date +%s.%N; }
for scene in $core_scenes; do
    for fps in 1 2; do
        t0=$(now)
        nice $ff -i "$tmp/$scene.mp4" -vf "fps=$fps" -f rawvideo -pix_fmt rgb24 - >/dev/null
        t1=$(now)
        decode=$(echo "$t1 - $t0" | bc)
        line=$(nice $ff -i "$tmp/$scene.mp4" -vf "fps=$fps" -f rawvideo -pix_fmt rgb24 - |
            nice "$bin" run --scene $scene --fps $fps --seconds "$seconds" --decode-s "$decode")
        emit "$line"
    done
done

case ",$parts," in *,daemon,*) ;; *) exit 0 ;; esac
scriptd="$build/daemon/scriptd"
[ -x "$scriptd" ] || { echo "run_gate.sh: no $scriptd: the daemon part needs it" >&2; exit 1; }
mkdir "$tmp/vit"
"$bin" model --out "$tmp/vit"
load=$(cut -d' ' -f1-3 /proc/loadavg)
for fps in 1 2; do
    for skip in false true; do
        cat > "$tmp/scriptd.yaml" <<YAML
server:
  listen: "127.0.0.1:0"
  log_format: plain
  blas_threads: 2
streams:
  - id: still
    file: "$tmp/still.mp4"
    fps: $fps
    encoder: {backend: clip, model: "$tmp/vit", skip_unchanged: $skip}
YAML
        summary=$(GST_PLUGIN_PATH_1_0="$build/gst-plugin" GST_REGISTRY_1_0="$tmp/registry.bin" \
            nice "$scriptd" -c "$tmp/scriptd.yaml" --exit-when-done --summary-json \
            2>"$tmp/scriptd.log") || { cat "$tmp/scriptd.log" >&2; exit 1; }
        emit "$(echo "$summary" | jq -c --arg load "$load" --argjson seconds "$seconds" \
            --arg skip "$skip" '{bench: "gate-daemon", scene: "still", fps, seconds: $seconds,
            skip_unchanged: $skip, frames, frames_encoded, frames_skipped, elapsed_s,
            rtf: ($seconds / .elapsed_s), packets, load: $load}')"
    done
done
