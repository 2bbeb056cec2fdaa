#!/bin/sh
# The README's main command: installs what is missing (tools/deps.sh), builds, and runs the
# daemon once over a sample video, then exits:
#   - tools/gen-sample-video.sh makes build/sample/demo.mp4 (10 s, 640x360, four moving objects);
#   - the query is an exemplar image: a crop of the red object, cut from the clip at 2 s;
#   - scriptd --config configs/demo.yaml --exit-when-done samples the clip at 2 fps with the
#     FFmpeg sampler, encodes each frame with the built-in patch encoder (no weights), prunes
#     with Script over windows of 8 frames (64 tokens kept per window), writes the pruned tokens
#     (safetensors, one file per window) and an overlay PNG of each frame that completed a
#     window, prints what it did (frames, tokens in/out, reduction, selection latency), exits.
# No network, no model weights, no running services (the HTTP API listens on a free loopback
# port while the daemon runs).
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build

video=build/sample/demo.mp4
query=build/sample/query-red.png
[ -f "$video" ] || tools/gen-sample-video.sh "$video"
# The red square at t = 2 s sits at (130, 50); the crop keeps a margin of background around it.
ffmpeg -nostdin -hide_banner -loglevel error -y -ss 2 -i "$video" -frames:v 1 \
    -vf crop=88:88:122:42 "$query"

rm -rf build/demo
echo "== scriptd --config configs/demo.yaml --exit-when-done"
# The plugin from the build tree; an installed scriptd finds its own.
GST_PLUGIN_PATH_1_0=$PWD/build/gst-plugin build/daemon/scriptd --config configs/demo.yaml \
    --exit-when-done

echo "== pruned tokens (safetensors: tokens [k, 256], pts, frame, yx [k, 2], per window)"
for f in build/demo/tokens/*.safetensors; do
    printf '%s: ' "$f"
    build/core/cli/scriptprune inspect "$f" | head -n 1
done
png=$(ls build/demo/overlay/*.png | head -n 1)
echo "== overlay of one frame (emitted tokens outlined, pruned ones dimmed): $png"
