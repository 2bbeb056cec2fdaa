#!/bin/sh
# Generates the small videos the sampler tests read, into directory $1.
# Every frame of the "counter" videos is one solid colour that encodes its frame index N:
#   R = (N mod 8) * 32 + 16,  G = (floor(N / 8) mod 8) * 32 + 16,  B = floor(N / 64) * 32 + 16
# so a test can tell exactly which frame it was given (steps of 32 survive lossy coding).
set -eu
out=$1
mkdir -p "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# H.264 via libx264 when this ffmpeg has it, else MPEG-4 part 2 (both have B-frames here).
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libx264 '; then
    h264="-c:v libx264 -preset veryfast -crf 18 -bf 2 -g 30 -keyint_min 30 -sc_threshold 0"
else
    h264="-c:v mpeg4 -q:v 2 -bf 2 -g 30"
fi
counter() { # seconds fps
    echo "color=c=black:s=128x72:r=$2:d=$1,format=rgb24,geq=r='mod(N,8)*32+16':g='mod(floor(N/8),8)*32+16':b='floor(N/64)*32+16'"
}

# 10 s at 30 fps, GOP 30 (a keyframe every second), B-frames, index at the front.
# shellcheck disable=SC2086
ff -f lavfi -i "$(counter 10 30)" $h264 -pix_fmt yuv420p -movflags +faststart "$out/counter.mp4"
# The same pictures with the index at the end (the usual layout of a recording).
# shellcheck disable=SC2086
ff -f lavfi -i "$(counter 10 30)" $h264 -pix_fmt yuv420p "$out/counter-tail-index.mp4"
# Other containers and codecs: MPEG-4 part 2 in AVI at 25 fps, H.264 in MPEG-TS (no index).
ff -f lavfi -i "$(counter 5 25)" -c:v mpeg4 -q:v 2 -bf 2 -g 12 -pix_fmt yuv420p "$out/counter.avi"
# shellcheck disable=SC2086
ff -f lavfi -i "$(counter 5 30)" $h264 -pix_fmt yuv420p -f mpegts "$out/counter.ts"

# Exemplar images: one solid colour (R 0x40, G 0x80, B 0xc0), as PNG and as JPEG.
ff -f lavfi -i "color=c=0x4080c0:s=48x32:d=1,format=rgb24" -frames:v 1 "$out/solid.png"
ff -f lavfi -i "color=c=0x4080c0:s=48x32:d=1" -frames:v 1 -q:v 2 "$out/solid.jpg"

# Not videos: an audio-only file and a text file.
ff -f lavfi -i "sine=frequency=440:duration=1" -c:a pcm_s16le "$out/audio-only.wav"
printf 'this is not a video\n' > "$out/not-video.txt"

# Damaged copies: cut in the middle (index at the front, so the start still plays; and index at
# the end, so nothing does), and 1 KiB of garbage written over the middle.
size=$(wc -c < "$out/counter.mp4")
head -c $((size * 6 / 10)) "$out/counter.mp4" > "$out/truncated.mp4"
tsize=$(wc -c < "$out/counter-tail-index.mp4")
head -c $((tsize / 2)) "$out/counter-tail-index.mp4" > "$out/truncated-tail-index.mp4"
cp "$out/counter.mp4" "$out/garbage.mp4"
yes 'scriptd garbage 0123456789abcdef' | head -c 1024 |
    dd of="$out/garbage.mp4" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
