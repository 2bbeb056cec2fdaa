#!/usr/bin/python3
"""Integration: streams of one scriptd with the same clip encoder share it and batch their frames.

Three `file:` streams read the same clip through the small CLIP model of tests/encode/gen_clip.py
(SCRIPTD_CLIP_FIXTURES; skipped without it). One daemon runs them with `encoder.max_batch: 8`
(their frames batched into shared forward passes), another with `max_batch: 1` (one frame per
pass, which is sp_encode frame by frame). Every stream of the batched run must emit the packets
of the one-by-one run: the same tokens kept at the same places and times, with token values equal
within float rounding (batching changes the order of a product's sums, not its terms). The three
batched streams also agree with each other, so no stream got another's frames or lost one. The
elements' log line at stop (GST_DEBUG=scriptencode:4) shows that passes held frames of several
streams in the batched run and one frame in the other.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

FIXTURES = os.environ.get("SCRIPTD_CLIP_FIXTURES", "")
MODEL = os.path.join(FIXTURES, "clip_f32")
STREAMS = ("a", "b", "c")
TOLERANCE = 1e-4  # relative to the largest token value of a packet

CONFIG_HEAD = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: info
streams:
"""

STREAM = """
  - id: {sid}
    file: "{clip}"
    fps: 2
    encoder:
      backend: clip
      model: "{model}"
      max_batch: {max_batch}
    pruning:
      window: 4
      hop: 4
      window_budget: 24
    sinks:
      - safetensors_dir: "{dir}/{sid}"
"""


def make_clip(path):
    """6 s at 10 fps: a textured background with a square moving across it."""
    graph = ("testsrc=s=320x240:r=10:d=6[bg];color=c=white:s=48x48:r=10:d=6[fg];"
             "[bg][fg]overlay=x='mod(t*50,270)':y=100:shortest=1,format=yuv420p")
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-filter_complex", graph, "-c:v", "mpeg4", "-q:v", "2", path], check=True)


def run_daemon(clip, max_batch):
    """Runs the three streams to the end; ({stream: [(file name, tensors)]}, the largest pass the
    elements logged at stop)."""
    d = H.Daemon("", env={"GST_DEBUG": "scriptencode:4", "GST_DEBUG_NO_COLOR": "1"})
    text = CONFIG_HEAD + "".join(
        STREAM.format(sid=s, clip=clip, model=MODEL, max_batch=max_batch, dir=d.dir)
        for s in STREAMS)
    with open(d.config, "w") as f:
        f.write(text)
    d.start()
    try:
        for s in STREAMS:
            d.wait_stream(s, lambda st: st["state"] == "done", "state done")
    finally:
        rc, _ = d.stop()
    assert rc == 0, f"scriptd exited with {rc}:\n{d.log_text()}"
    out = {}
    for s in STREAMS:
        path = os.path.join(d.dir, s)
        files = []
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), "rb") as f:
                files.append((name, H.read_safetensors(f.read())[1]))
        out[s] = files
    largest = [int(m) for m in re.findall(r"at most (\d+) a pass", d.log_text())]
    assert largest, "scriptencode logged no shared-encoder line"
    return out, max(largest)


@unittest.skipUnless(os.path.isdir(MODEL), "no CLIP fixtures (tests/encode/gen_clip.py)")
class SharedEncoder(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="scriptd-shared-")
        H._dirs.append(cls.work)
        clip = os.path.join(cls.work, "moving.mp4")
        make_clip(clip)
        cls.batched, cls.batched_largest = run_daemon(clip, 8)
        cls.one_by_one, cls.one_by_one_largest = run_daemon(clip, 1)

    def assert_same_packets(self, got, want, what):
        # names are STREAM-TIME-rRUN-wWINDOW.safetensors: the windows must match
        def windows(files):
            return [n.rsplit("-", 1)[1] for n, _ in files]
        self.assertEqual(windows(got), windows(want), what)
        self.assertGreaterEqual(len(want), 2, f"{what}: too few packets")
        for (name, g), (_, w) in zip(got, want):
            for key in ("yx", "frame", "pts", "last_pts", "seen"):
                self.assertEqual(g[key][2], w[key][2], f"{what} {name}: {key}")
            gv, wv = g["tokens"][2], w["tokens"][2]
            self.assertEqual(len(gv), len(wv), f"{what} {name}: token count")
            scale = max(abs(v) for v in wv) or 1.0
            diff = max(abs(a - b) for a, b in zip(gv, wv))
            self.assertLessEqual(diff, TOLERANCE * scale, f"{what} {name}: token values")

    def test_the_streams_frames_met_in_shared_passes(self):
        self.assertGreaterEqual(self.batched_largest, 2, "no pass held two streams' frames")
        self.assertEqual(self.one_by_one_largest, 1)

    def test_batched_streams_emit_what_one_frame_at_a_time_emits(self):
        for s in STREAMS:
            self.assert_same_packets(self.batched[s], self.one_by_one[s], f"stream {s}")

    def test_the_streams_sharing_an_encoder_agree_with_each_other(self):
        for s in STREAMS[1:]:
            self.assert_same_packets(self.batched[s], self.batched[STREAMS[0]],
                                     f"stream {s} against {STREAMS[0]}")


if __name__ == "__main__":
    unittest.main()
