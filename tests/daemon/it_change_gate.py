#!/usr/bin/python3
"""Integration: the change gate before the encoder, through the daemon, with a small
random-weight CLIP model (tests/encode/gen_clip.py, SCRIPTD_CLIP_FIXTURES).

Two lossless clips (FFV1, so every decoded frame of a static picture is the same bytes): one
static for 4 s, one static for 2 s and then another static picture for 2 s. Each runs as two
`file:` streams, `skip_unchanged: true` and `false`. The gated streams must write, tensor for
tensor, the safetensors packets of the ungated ones (tokens, positions, pts, last_pts, seen),
while the encoder ran once per static picture; /v1/streams, /metrics and the --exit-when-done
summary (text and JSON) show frames_encoded and frames_skipped.
"""
import json
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
WORK = tempfile.mkdtemp(prefix="scriptd-gate-")
H._dirs.append(WORK)
FPS = 2
SECONDS = 4
SAMPLED = SECONDS * FPS


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + list(args),
                   check=True, timeout=300)


def make_clips():
    still = os.path.join(WORK, "still.mkv")
    ffmpeg("-f", "lavfi", "-i", f"smptebars=s=320x240:r=10:d={SECONDS}", "-c:v", "ffv1", still)
    two = os.path.join(WORK, "two.mkv")
    ffmpeg("-f", "lavfi", "-i", "smptebars=s=320x240:r=10:d=2", "-f", "lavfi", "-i",
           "color=c=0x336699:s=320x240:r=10:d=2", "-filter_complex",
           "[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];[a][b]concat=n=2:v=1[v]", "-map",
           "[v]", "-c:v", "ffv1", two)
    return still, two


def stream_cfg(sid, clip, skip):
    return f"""
  - id: {sid}
    file: "{clip}"
    fps: {FPS}
    # max_batch 1: the gated and ungated streams share one encoder, and a pass of several
    # frames may round their last bits differently; the comparison here is bit for bit.
    encoder: {{backend: clip, model: "{MODEL}", skip_unchanged: {skip}, max_skip_s: 60,
               max_batch: 1}}
    pruning: {{window: 4, hop: 2, window_budget: 6}}
    sinks:
      - safetensors_dir: "{WORK}/{sid}"
"""


HEAD = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
streams:
"""

# stream id -> (clip, skip_unchanged, frames the encoder must run on)
STREAMS = {}


def read_packets(sid):
    out = []
    for name in sorted(os.listdir(os.path.join(WORK, sid))):
        with open(os.path.join(WORK, sid, name), "rb") as f:
            _, tensors = H.read_safetensors(f.read())
        out.append(tensors)
    return out


@unittest.skipUnless(os.path.isdir(MODEL), "no clip fixtures (python3-torch missing)")
class SameOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        still, two = make_clips()
        STREAMS.update({
            "still-gated": (still, "true", 1), "still-all": (still, "false", SAMPLED),
            "two-gated": (two, "true", 2), "two-all": (two, "false", SAMPLED),
        })
        cls.cfg = HEAD + "".join(stream_cfg(sid, clip, skip)
                                 for sid, (clip, skip, _) in STREAMS.items())
        cls.d = H.Daemon(cls.cfg)
        cls.d.start()

        def ended():
            docs = {sid: cls.d.stream(sid) for sid in STREAMS}
            return docs if all(d["state"] in ("done", "failed") for d in docs.values()) else None
        cls.docs = H.wait_for(ended, "every stream to end", deadline=H.DEADLINE * 3)
        cls.metrics = cls.d.metrics()

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.d.stop()
        assert rc == 0, f"scriptd exited with {rc}:\n{cls.d.log_text()}"

    def test_counters_in_streams_and_metrics(self):
        for sid, (_, skip, encoded) in STREAMS.items():
            with self.subTest(stream=sid):
                doc = self.docs[sid]
                self.assertEqual(doc["encoder"]["skip_unchanged"], skip, doc["encoder"])
                self.assertEqual(doc["encoder"]["max_skip_s"], 60, doc["encoder"])
                self.assertEqual(doc["state"], "done", doc)
                self.assertEqual(doc["frames"], SAMPLED, doc)
                self.assertEqual(doc["frames_encoded"], encoded, doc)
                self.assertEqual(doc["frames_skipped"], SAMPLED - encoded, doc)
                lbl = f'{{stream="{sid}"}}'
                self.assertEqual(self.metrics[f"scriptd_frames_encoded_total{lbl}"], encoded)
                self.assertEqual(self.metrics[f"scriptd_frames_skipped_total{lbl}"],
                                 SAMPLED - encoded)

    def test_gated_packets_equal_ungated_bit_for_bit(self):
        for clip in ("still", "two"):
            with self.subTest(clip=clip):
                gated, every = read_packets(f"{clip}-gated"), read_packets(f"{clip}-all")
                self.assertGreaterEqual(len(every), SAMPLED // 2 - 1)
                self.assertEqual(len(gated), len(every))
                for g, e in zip(gated, every):
                    self.assertEqual(sorted(g), sorted(e))
                    for name in e:
                        self.assertEqual(g[name], e[name], name)

    def test_summary_text_and_json(self):
        cfg = HEAD + stream_cfg("two-gated", STREAMS["two-gated"][0], "true").replace(
            f"{WORK}/two-gated", f"{WORK}/summary")
        d = H.Daemon(cfg)
        for args, check in ((("--exit-when-done",), self.check_text),
                            (("--exit-when-done", "--summary-json"), self.check_json)):
            p = subprocess.run([H.BIN, "-c", d.config] + list(args), capture_output=True,
                               env=d.env, timeout=H.DEADLINE * 2)
            self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
            check(p.stdout.decode())

    def check_text(self, out):
        self.assertRegex(out, r"frames_encoded 2, frames_skipped %d" % (SAMPLED - 2))

    def check_json(self, out):
        s = json.loads(out.strip().splitlines()[0])
        self.assertEqual((s["frames_encoded"], s["frames_skipped"]), (2, SAMPLED - 2), s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
