#!/usr/bin/python3
"""Integration: a live RTSP camera that drops and comes back.

A real RTSP server (rtsp_test_server.py, gst-rtsp-server) serves a generated live clip on
127.0.0.1. scriptd plays it next to another live stream; the server is killed mid-stream: the
camera's stream goes `retrying`, is restarted with a growing backoff, the refused connection is
logged with its cause and counted in /metrics, the other stream is untouched; the server comes
back on the same port and the stream plays again.
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtsp_test_server.py")


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def server_env():
    """The server is an ordinary Python process: not the build's (instrumented) plugin path or
    registry, nor the sanitizer settings meant for scriptd."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GST_", "ASAN_", "LSAN_", "UBSAN_"))}
    return env


class RtspServer:
    def __init__(self, port):
        self.proc = subprocess.Popen(["/usr/bin/python3", SERVER, str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=server_env())
        H.wait_for(self._ready, "the RTSP server to listen")

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("the RTSP server exited: " + self.proc.stderr.read().decode())
        r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
        if not r:
            return None
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            raise AssertionError(f"RTSP server said {line!r}")
        return True

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self.proc.stdout.close()
        self.proc.stderr.close()


CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  restart_min_s: 0.2
  restart_max_s: 1.6
streams:
  - id: cam
    uri: "rtsp://127.0.0.1:{port}/test"
    fps: 5
    encoder: {{image_size: 56}}
    pruning: {{window: 4, hop: 4, window_budget: 8}}
  - id: other
    pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=10/1"
    fps: 5
    encoder: {{image_size: 56}}
    pruning: {{window: 4, hop: 4, window_budget: 8}}
"""


class CameraDrops(unittest.TestCase):
    def test_drop_backoff_and_recovery(self):
        port = free_tcp_port()
        server = RtspServer(port)
        # Unreffing a pipeline whose uridecodebin ran rtspsrc may leave GLib/GStreamer-internal
        # allocations (no scriptd frame): leak checking is off for this process only.
        d = H.Daemon(CONFIG.format(port=port),
                     env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"})
        try:
            d.start()
            d.wait_stream("cam", lambda s: s["state"] == "playing" and s["frames"] >= 5,
                          "the camera playing")
            other_before = d.stream("other")["frames"]

            # The camera drops.
            server.kill()
            # A live pipeline reaches PLAYING before rtspsrc finds the server gone, so each
            # restart shows "playing" for a moment: wait for a moment between two attempts.
            cam = d.wait_stream("cam", lambda s: s["restarts"] >= 3
                                and s["state"] in ("retrying", "starting"),
                                "three restarts while down")
            self.assertTrue(cam["error"], cam)
            log = d.log_text()
            self.assertRegex(log, rf"cam: cause: connection to 127\.0\.0\.1:{port} refused")
            delays = [float(x) for x in re.findall(r"cam: [^\n]*retrying in ([\d.]+) s", log)]
            # After a healthy run the backoff starts at restart_min_s and doubles.
            self.assertEqual(delays[:3], [0.2, 0.4, 0.8], log)
            m = H.wait_for(lambda: (lambda m: m if m['scriptd_stream_up{stream="cam"}'] == 0
                                    else None)(d.metrics()), "stream_up 0 between attempts")
            self.assertGreaterEqual(m['scriptd_source_restarts_total{stream="cam"}'], 3)
            # The other stream is untouched.
            other = d.stream("other")
            self.assertEqual((other["state"], other["restarts"]), ("playing", 0), other)
            self.assertGreater(other["frames"], other_before)

            # The camera comes back on the same port.
            frames_down = d.stream("cam")["frames"]
            server = RtspServer(port)
            d.wait_stream("cam", lambda s: s["state"] == "playing"
                          and s["frames"] > frames_down + 5, "the camera playing again")
            m = d.metrics()
            self.assertEqual(m['scriptd_stream_up{stream="cam"}'], 1)
            self.assertEqual(m['scriptd_source_restarts_total{stream="cam"}'],
                             d.stream("cam")["restarts"])
            self.assertEqual(d.stream("other")["restarts"], 0)
        finally:
            rc, _ = d.stop(signal.SIGTERM)
            server.kill()
        self.assertEqual(rc, 0, d.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
