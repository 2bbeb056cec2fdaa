#!/bin/sh
# Generates the demo's sample video: 10 s of 640x360 at 30 fps, H.264 when this ffmpeg has libx264
# (else MPEG-4 part 2), a few hundred KiB. A static textured background (so that most tokens are
# redundant and worth pruning) with four objects of distinct colours moving across it on
# different paths and speeds (so that the temporal graph and a colour query have something to
# find). Deterministic: the same ffmpeg gives the same pictures.
#   tools/gen-sample-video.sh [OUT]        default: build/sample/demo.mp4
# The video is generated on the fly by the demo, not committed.
set -eu
out=${1:-build/sample/demo.mp4}
mkdir -p "$(dirname "$out")"
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libx264 '; then
    codec="-c:v libx264 -preset medium -crf 30 -g 60 -pix_fmt yuv420p"
else
    codec="-c:v mpeg4 -q:v 8 -g 60 -pix_fmt yuv420p"
fi
# Background: soft diagonal stripes and a checker pattern in muted tones (geq), drawn once and
# looped. Objects: solid boxes overlaid with time-dependent positions (overlay evaluates x/y per
# frame with t in seconds).
bg="nullsrc=s=640x360:r=30:d=10,geq=lum='110+25*sin((X+Y)/9)+20*(mod(floor(X/40)+floor(Y/40),2))':cb=120:cr=136"
# shellcheck disable=SC2086
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "$bg" \
    -f lavfi -i "color=c=red:s=72x72:r=30:d=10" \
    -f lavfi -i "color=c=0x2060ff:s=56x96:r=30:d=10" \
    -f lavfi -i "color=c=yellow:s=110x40:r=30:d=10" \
    -f lavfi -i "color=c=0x20c040:s=48x48:r=30:d=10" \
    -filter_complex "\
[0:v][1:v]overlay=x='20+55*t':y='40+20*sin(t*1.3)':shortest=1[a];\
[a][2:v]overlay=x='560-48*t':y='200+60*sin(t*0.8)':shortest=1[b];\
[b][3:v]overlay=x='260+180*sin(t*0.6)':y='300-25*t':shortest=1[c];\
[c][4:v]overlay=x='320+120*cos(t*1.7)':y='170+120*sin(t*1.7)':shortest=1,format=yuv420p[v]" \
    -map "[v]" $codec -movflags +faststart "$out"
echo "$out: $(wc -c < "$out") bytes"
