#!/bin/sh
# Installs the Debian 12 packages scriptd needs to build, test and run, when any is missing.
# Usage: tools/deps.sh            (as root, or with sudo available)
# Runs `apt-get update` first whenever something has to be installed.
set -eu

PACKAGES="
meson ninja-build pkgconf gcc libc6-dev
libopenblas-dev libcmocka-dev libpng-dev libjpeg62-turbo-dev
python3 python3-numpy python3-torch python3-skimage python3-matplotlib python3-pil
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav
libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg
libyaml-dev libsoup-3.0-dev libjson-glib-dev libsystemd-dev
valgrind curl clang-format
clang-14 libclang-rt-14-dev libfuzzer-14-dev
python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
redis-server libhiredis-dev
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all $(echo $PACKAGES | wc -w) Debian packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "deps: installing:$missing"
$SUDO apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
