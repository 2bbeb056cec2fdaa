#!/usr/bin/python3
"""A tiny RTSP server for the integration tests (gst-rtsp-server through GObject introspection).

Usage: rtsp_test_server.py PORT
Serves rtsp://127.0.0.1:PORT/test: a generated live clip (videotestsrc, 160x120 at 10 fps, JPEG
over RTP). Prints "ready" on stdout once it listens; runs until killed.
"""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = ("( videotestsrc is-live=true pattern=ball ! "
          "video/x-raw,format=I420,width=160,height=120,framerate=10/1 ! "
          "jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26 )")


def main():
    port = sys.argv[1]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
