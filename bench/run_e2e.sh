#!/bin/sh
# End-to-end throughput of the demo pipeline -- FFmpeg sampler (decode) + patch encoder +
# Script pruning, the daemon's `file:` stream -- on a generated 1080p30 H.264 file sampled at
# 2 fps, plus the sampler alone on the same file for the breakdown. Prints JSON lines:
#   {"bench":"e2e_input", ...}                       the file
#   {"bench":"e2e", ...}                             per run: frames/s, real-time factor, tokens
#   {"bench":"sampler", ...} (bench-sampler's lines) the sampler alone, its variants and PSNR
#   bench/run_e2e.sh [SECONDS] [GOP_FRAMES] [RUNS]    defaults: 120 s, GOP 60, 3 runs
# The file is cached in bench/out/ (not committed). Needs ffmpeg, a build in build/.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-120}
gop=${2:-60}
runs=${3:-3}
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
[ -x build/daemon/scriptd ] || { [ -f build/build.ninja ] || meson setup build >/dev/null; ninja -C build >/dev/null; }
printf '{"bench":"e2e_input","file":"%s","seconds":%s,"gop_frames":%s,"cpus":%s}\n' \
    "$video" "$seconds" "$gop" "$(nproc)"

# The demo's settings (configs/demo.yaml) on the 1080p file, no query, no sinks.
config="$out/e2e.yaml"
cat > "$config" <<EOF
server:
  listen: "127.0.0.1:0"
  log_level: warning
streams:
  - id: e2e
    file: "$PWD/$video"
    fps: 2
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
    # Whole process (start-up, plugin load, teardown) and the stream's own time.
    /usr/bin/python3 - "$line" "$t0" "$t1" "$seconds" "$i" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); t0, t1, video_s = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
wall = s["elapsed_s"]
print(json.dumps({"bench": "e2e", "run": int(sys.argv[5]), "video_s": video_s,
                  "frames": s["frames"], "wall_s": round(wall, 3),
                  "process_wall_s": round(t1 - t0, 3),
                  "fps": round(s["frames"] / wall, 2),
                  "realtime_factor": round(video_s / wall, 2),
                  "tokens_in": s["tokens_in"], "tokens_out": s["tokens_out"],
                  "selection_ms_per_frame": round(s["selection_ms"]["per_frame"], 3)}))
PY
done
build/bench/bench-sampler "$video"
