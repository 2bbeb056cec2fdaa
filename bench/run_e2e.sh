#!/bin/sh
# End-to-end throughput of the demo pipeline -- FFmpeg sampler (decode) + patch encoder +
# Script pruning, the daemon's `file:` stream with configs/demo.yaml's settings -- on a generated
# 1080p30 H.264 file sampled at 2 fps, plus the sampler alone on the same file for the
# breakdown. Prints JSON lines:
#   {"bench":"e2e_input", ...}                       the file
#   {"bench":"e2e", ...}                             per run: frames/s, real-time factor, tokens
#   {"bench":"sampler", ...} (bench-sampler's lines) the sampler alone, its variants and PSNR
#   bench/run_e2e.sh [SECONDS] [GOP_FRAMES] [RUNS] [CONTENT]
#       defaults: 120 s, GOP 60, 3 runs, testsrc2
# CONTENT: testsrc2 (FFmpeg's moving test picture: every pixel changes, the worst case for both
# the decoder and the temporal graph) or scene (the demo clip of tools/gen-sample-video.sh, a
# static background with moving objects, scaled to 1080p and looped: what a fixed camera sees).
# Files are cached in bench/out/ (not committed). Needs ffmpeg and a build in build/.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-120}
gop=${2:-60}
runs=${3:-3}
content=${4:-testsrc2}
out=bench/out
mkdir -p "$out"
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libx264 '; then
    codec="-c:v libx264 -preset veryfast"
else
    codec="-c:v mpeg4 -q:v 4"
fi
case $content in
testsrc2)
    video="$out/sampler-1080p30-${seconds}s-g${gop}.mp4"
    input="-f lavfi -i testsrc2=size=1920x1080:rate=30:duration=$seconds"
    filter="null"
    ;;
scene)
    video="$out/scene-1080p30-${seconds}s-g${gop}.mp4"
    [ -f build/sample/demo.mp4 ] || tools/gen-sample-video.sh build/sample/demo.mp4 >&2
    input="-stream_loop -1 -i build/sample/demo.mp4 -t $seconds"
    filter="scale=1920:1080:flags=bicubic"
    ;;
*)
    echo "run_e2e.sh: CONTENT is testsrc2 or scene" >&2
    exit 2
    ;;
esac
if [ ! -f "$video" ]; then
    echo "generating $video" >&2
    # shellcheck disable=SC2086
    ffmpeg -nostdin -hide_banner -loglevel error -y $input -vf "$filter" -r 30 \
        $codec -g "$gop" -pix_fmt yuv420p -an "$video.tmp.mp4"
    mv "$video.tmp.mp4" "$video"
fi
[ -x build/daemon/scriptd ] || { [ -f build/build.ninja ] || meson setup build >/dev/null; ninja -C build >/dev/null; }
printf '{"bench":"e2e_input","file":"%s","content":"%s","seconds":%s,"gop_frames":%s,"cpus":%s,"load_average":"%s"}\n' \
    "$video" "$content" "$seconds" "$gop" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"

# The demo's settings (configs/demo.yaml) on the 1080p file, no query, no sinks; the default
# blas_threads (1). Three decoding setups (WORKERS/THREADS): the default, samplers side by side
# (decode_workers 0: one per CPU); one sampler with FFmpeg's automatic decoder threads; one
# sampler with one decoder thread.
for setup in 0/0 1/0 1/1; do
    workers=${setup%/*}
    threads=${setup#*/}
    config="$out/e2e-w$workers-t$threads.yaml"
    cat > "$config" <<EOF
server:
  listen: "127.0.0.1:0"
  log_level: warning
streams:
  - id: e2e
    file: "$PWD/$video"
    fps: 2
    decode_workers: $workers
    decode_threads: $threads
    pruning:
      window: 8
      hop: 8
      window_budget: 64
EOF
    i=0
    while [ "$i" -lt "$runs" ]; do
        i=$((i + 1))
        t0=$(date +%s.%N)
        line=$(GST_PLUGIN_PATH_1_0=$PWD/build/gst-plugin build/daemon/scriptd -c "$config" \
            --exit-when-done --summary-json)
        t1=$(date +%s.%N)
        # The stream's own time (first start to end of file) and the whole process's.
        /usr/bin/python3 - "$line" "$t0" "$t1" "$seconds" "$i" "$content" "$threads" "$workers" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); t0, t1, video_s = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
wall = s["elapsed_s"]
print(json.dumps({"bench": "e2e", "content": sys.argv[6], "decode_workers": int(sys.argv[8]),
                  "decode_threads": int(sys.argv[7]),
                  "run": int(sys.argv[5]), "video_s": video_s,
                  "frames": s["frames"], "wall_s": round(wall, 3),
                  "process_wall_s": round(t1 - t0, 3),
                  "fps": round(s["frames"] / wall, 2),
                  "realtime_factor": round(video_s / wall, 2),
                  "tokens_in": s["tokens_in"], "tokens_out": s["tokens_out"],
                  "temporal_drops": s["drops"]["temporal"], "spatial_drops": s["drops"]["spatial"],
                  "selection_ms_per_frame": round(s["selection_ms"]["per_frame"], 3)}))
PY
    done
done
[ "${SAMPLER:-1}" = 0 ] || build/bench/bench-sampler "$video"
