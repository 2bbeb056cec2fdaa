#!/usr/bin/python3
"""Integration: scriptd as a service process.

With $NOTIFY_SOCKET pointed at a test datagram socket and WATCHDOG_USEC set: READY=1 with a
STATUS line, WATCHDOG=1 only while every playing stream advances (a UDP "camera" the test feeds,
then starves), RELOADING=1 + MONOTONIC_USEC on SIGHUP, a broken new config rejected with its
position while the old one keeps serving, a good one restarting only the stream that changed,
and SIGTERM: STOPPING=1 and exit within 5 s.
"""
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
streams:
  # A camera that sends raw 64x48 RGB frames over UDP; it stalls when the test stops sending.
  - id: cam
    pipeline: "udpsrc port={port} caps=video/x-raw,format=RGB,width=64,height=48,framerate=0/1"
    fps: 30
    encoder:
      image_size: 56
    pruning:
      emit: frame
      frame_budget: 4
  - id: pattern
    pipeline: "videotestsrc is-live=true pattern=snow ! video/x-raw,width=64,height=48,framerate=10/1"
    fps: 10
    encoder:
      image_size: 56
    pruning:
      window: 4
      hop: 4
      window_budget: {budget}
"""


class Camera:
    """Sends frames to the cam stream from a thread while `running` is set."""

    def __init__(self, port):
        self.port = port
        self.running = threading.Event()
        self.quit = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        n = 0
        while not self.quit:
            if self.running.is_set():
                frame = bytes(((i + 17 * n) % 251) for i in range(64 * 48 * 3))
                self.sock.sendto(frame, ("127.0.0.1", self.port))
                n += 1
            time.sleep(0.05)

    def close(self):
        self.quit = True
        self.thread.join()
        self.sock.close()


class Process(unittest.TestCase):
    def test_service_lifecycle(self):
        port = H.free_udp_port()
        d = H.Daemon("")
        with open(d.config, "w") as f:
            f.write(CONFIG.format(port=port, budget=8))
        notify = H.NotifySocket(d.dir)
        # 1 s watchdog: a ping every 0.5 s while the streams advance.
        d.env["NOTIFY_SOCKET"] = notify.path
        d.env["WATCHDOG_USEC"] = "1000000"
        cam = Camera(port)
        cam.running.set()
        try:
            d.start()
            self.lifecycle(d, notify, cam)
        finally:
            cam.close()
            d.kill()
            notify.close()

    def lifecycle(self, d, notify, cam):
        ready = notify.wait(lambda m: m.get("READY") == "1", "READY=1")
        self.assertIn("stream", ready.get("STATUS", ""))
        self.assertIn("API on 127.0.0.1:", ready.get("STATUS", ""))

        # Both streams advance: pings come.
        d.wait_stream("cam", lambda s: s["frames"] > 3, "cam frames")
        t = time.monotonic()
        notify.wait(lambda m: m.get("WATCHDOG") == "1", "a watchdog ping", after=t)

        # The camera stalls: pings stop (no ping in a 1.5 s window, after one tick of grace).
        cam.running.clear()
        time.sleep(1.2)
        t = time.monotonic()
        time.sleep(1.5)
        pings = [m for m in notify.since(t) if m.get("WATCHDOG") == "1"]
        self.assertEqual(pings, [], "watchdog pings continued while the camera stalled")
        self.assertGreater(d.metrics()["scriptd_watchdog_skipped_total"], 0)
        self.assertEqual(d.request("GET", "/healthz")[0], 200)

        # It sends again: pings resume.
        cam.running.set()
        t = time.monotonic()
        notify.wait(lambda m: m.get("WATCHDOG") == "1", "pings after the camera resumed",
                    after=t)

        cam_run = d.stream("cam")["run"]
        pattern_run = d.stream("pattern")["run"]

        # A broken config: rejected with its position, the old one keeps running.
        with open(d.config, "a") as f:
            f.write("  - id: broken\n    fps: fast\n")
        t = time.monotonic()
        d.send_signal(signal.SIGHUP)
        reloading = notify.wait(lambda m: m.get("RELOADING") == "1", "RELOADING=1", after=t)
        self.assertTrue(reloading.get("MONOTONIC_USEC", "").isdigit(), reloading)
        again = notify.wait(lambda m: m.get("READY") == "1", "READY=1 after the reload", after=t)
        self.assertIn("reload rejected", again.get("STATUS", ""))
        self.assertIn("scriptd.yaml:", again.get("STATUS", ""))
        H.wait_for(lambda: "rejected" in d.log_text(), "the rejection in the log")
        self.assertRegex(d.log_text(), r"scriptd\.yaml:\d+:\d+: key 'streams\[2\]\.")
        self.assertEqual(d.metrics()['scriptd_reloads_total{result="rejected"}'], 1)
        status, doc = d.json("GET", "/v1/streams")
        self.assertEqual([s["id"] for s in doc["streams"]], ["cam", "pattern"])
        self.assertEqual(d.stream("cam")["run"], cam_run)

        # A good config that changes only `pattern`: only it restarts.
        with open(d.config, "w") as f:
            f.write(CONFIG.format(port=cam.port, budget=12))
        t = time.monotonic()
        d.send_signal(signal.SIGHUP)
        notify.wait(lambda m: m.get("RELOADING") == "1", "RELOADING=1 (good config)", after=t)
        notify.wait(lambda m: m.get("READY") == "1", "READY=1 (good config)", after=t)
        self.assertEqual(d.metrics()['scriptd_reloads_total{result="ok"}'], 1)
        self.assertEqual(d.stream("cam")["run"], cam_run)
        s = d.wait_stream("pattern", lambda s: s["state"] == "playing", "pattern playing")
        self.assertNotEqual(s["run"], pattern_run)
        self.assertEqual(s["pruning"]["window_budget"], 12)

        # SIGTERM: STOPPING=1, drained, exit 0 within 5 s.
        t = time.monotonic()
        rc, took = d.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, d.log_text())
        self.assertLess(took, 5.0, f"SIGTERM took {took:.2f} s")
        notify.wait(lambda m: m.get("STOPPING") == "1", "STOPPING=1", after=t, deadline=5)

    def test_exit_when_done_prints_a_summary(self):
        d = H.Daemon("")
        with open(d.config, "w") as f:
            f.write(f"""
server:
  listen: "127.0.0.1:0"
streams:
  - id: clip
    file: "{os.path.join(H.VIDEOS, 'counter.mp4')}"
    fps: 1
    pruning: {{window: 5, hop: 5, window_budget: 10}}
    sinks:
      - safetensors_dir: "{d.dir}/out"
""")
        d.args = ["--exit-when-done"]
        d.start()
        rc = d.proc.wait(H.DEADLINE)
        out = d.proc.stdout.read().decode()
        d.proc.stdout.close()
        d.log.close()
        self.assertEqual(rc, 0, d.log_text())
        self.assertIn("stream clip", out)
        self.assertIn("10 sampled", out)
        self.assertRegex(out, r"tokens +\d+ in -> 20 out in 2 packets")
        self.assertIn("ms per frame", out)
        self.assertEqual(len(os.listdir(os.path.join(d.dir, "out"))), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
