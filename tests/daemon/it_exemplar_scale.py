#!/usr/bin/python3
"""Integration: exemplar queries encoded at the scale they have in a stream's frames.

Two streams with the same encoder: `live`, a 160x120 test pattern with a configured exemplar
query, and `cam`, a 160x120 raw camera over UDP that gets no frame until the test sends some.
An exemplar built before any frame (the configured one at start, one posted to `cam`) is fitted
to the encoder's input and says so; once frames flow it is encoded again at their scale, and the
rows are exactly those of the same exemplar posted to a stream whose frames flow (same hash),
not the fitted ones. Pooled exemplars and exemplars larger than the frame stay fitted.
"""
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

W, H_ = 160, 120
SCALE = f"at {W}x{H_} frame scale"
NOT_YET = "fitted: frame size not known yet"

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: info
streams:
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1"
    fps: 5
    encoder:
      image_size: 112
    query:
      image: "{dir}/crop.png"
  - id: cam
    pipeline: "udpsrc port={port} caps=video/x-raw,format=RGB,width=160,height=120,framerate=0/1"
    fps: 5
    encoder:
      image_size: 112
"""


class Camera:
    """Sends raw 160x120 RGB frames to the cam stream from a thread once started."""

    def __init__(self, port):
        self.port = port
        self.quit = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self.quit.is_set():
            frame = bytes(((i + 17 * n) % 251) for i in range(W * H_ * 3))
            self.sock.sendto(frame, ("127.0.0.1", self.port))
            n += 1
            time.sleep(0.1)

    def close(self):
        self.quit.set()
        if self.thread.is_alive():
            self.thread.join()
        self.sock.close()


class ExemplarScale(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon("")
        # A crop a quarter of the frame wide.
        cls.crop = H.png_solid(40, 30, (230, 120, 20))
        with open(os.path.join(cls.d.dir, "crop.png"), "wb") as f:
            f.write(cls.crop)
        port = H.free_udp_port()
        with open(cls.d.config, "w") as f:
            f.write(CONFIG.format(dir=cls.d.dir, port=port))
        cls.cam = Camera(port)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.cam.close()
        rc, took = cls.d.stop()
        if rc != 0:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"

    def query(self, sid):
        status, doc = self.d.json("GET", f"/v1/streams/{sid}/query")
        self.assertEqual(status, 200, doc)
        return doc["query"]

    def post_image(self, sid, png, mode=None):
        path = f"/v1/streams/{sid}/query" + (f"?mode={mode}" if mode else "")
        status, doc = self.d.json("POST", path, raw=png, headers={"Content-Type": "image/png"})
        self.assertEqual(status, 200, doc)
        return doc["query"]

    def test_exemplars_follow_the_frame_scale(self):
        # The configured exemplar was built at start, before any frame: fitted, and said so.
        H.wait_for(lambda: "live: query image crop.png (40x30, all, " + NOT_YET in
                   self.d.log_text(), "the configured query built fitted at start")
        # Once frames flow it is encoded again at their scale.
        self.d.wait_stream("live", lambda s: s["frames"] > 0, "live frames")
        configured = H.wait_for(lambda: (lambda q: q if SCALE in q["description"] else None)(
            self.query("live")), "the configured query at the frame scale")
        self.assertEqual(configured["description"], f"image crop.png (40x30, all, {SCALE})")

        # Posted to a stream without frames: fitted; to one with frames: at their scale.
        self.assertEqual(self.d.stream("cam")["frames"], 0)
        fitted = self.post_image("cam", self.crop)
        self.assertIn(NOT_YET, fitted["description"])
        scaled = self.post_image("live", self.crop)
        self.assertIn(SCALE, scaled["description"])
        self.assertEqual(scaled["hash"], configured["hash"])
        # Fitted, the crop fills the encoder's input (one row per cell of the picture); at the
        # frame scale it covers a few cells only.
        self.assertNotEqual(scaled["hash"], fitted["hash"])
        self.assertLess(scaled["rows"], fitted["rows"])
        self.assertGreaterEqual(scaled["rows"], 1)

        # cam's first frames: its fitted query becomes the same rows as live's.
        self.cam.thread.start()
        self.d.wait_stream("cam", lambda s: s["frames"] > 0, "cam frames")
        rescaled = H.wait_for(lambda: (lambda q: q if SCALE in q["description"] else None)(
            self.query("cam")), "cam's query at the frame scale")
        self.assertEqual(rescaled["hash"], scaled["hash"])
        self.assertEqual(rescaled["rows"], scaled["rows"])

    def test_pooled_and_larger_exemplars_stay_fitted(self):
        self.d.wait_stream("live", lambda s: s["frames"] > 0, "live frames")
        pooled = self.post_image("live", self.crop, mode="pooled")
        self.assertEqual(pooled["rows"], 1)
        self.assertIn("fitted: pooled", pooled["description"])
        large = self.post_image("live", H.png_solid(200, 150, (20, 200, 90)))
        self.assertIn(f"fitted: larger than the {W}x{H_} frame", large["description"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
