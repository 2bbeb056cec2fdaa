#!/usr/bin/python3
"""Integration: any frame size through every source kind.

Clips of 854x480 (a width that is not a multiple of 4), 641x361 (odd width and height, odd
chroma planes) and 642x362 (even, but rows of RGB not a multiple of 4) go through each source
kind of the daemon: a `file:` stream (the FFmpeg sampler), a `uri:` stream (a file:// URI,
uridecodebin), a `pipeline:` with `filesrc ! decodebin ! videoconvert`, a `pipeline:` with
`videotestsrc` making packed RGB at that size (GStreamer pads its rows to 4 bytes), and a job
(POST /v1/jobs). Each must give exactly the frames the clip holds at 2 fps (4 s at 10 fps: 8),
every decoded frame must reach the sampling stage, and the overlay PNGs have the frame's own
size. A source that gives no frame at all (a file:// URI of an audio file, a pipeline that ends at
once, a job on an audio file) ends `failed` with the reason, and --exit-when-done exits 1.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

WORK = tempfile.mkdtemp(prefix="scriptd-sizes-")
H._dirs.append(WORK)
MEDIA = os.path.join(WORK, "media")

SIZES = ((854, 480), (641, 361), (642, 362))
SECONDS, RATE, FPS = 4, 10, 2
DECODED = SECONDS * RATE  # frames in each clip
SAMPLED = SECONDS * FPS  # frames at 2 fps: instants 0, 0.5, ..., 3.5 s
WINDOW = 4  # window = hop: two whole windows, two packets, two overlay PNGs per stream


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + list(args),
                   check=True, timeout=300)


def probe_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", path], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    w, h = out.strip().split(",")
    return int(w), int(h)


def make_clip(w, h):
    """A 4 s, 10 fps MPEG-4 clip of exactly w x h (testsrc keeps odd sizes; testsrc2 would round
    them down to even ones, and the clip would not test what it claims)."""
    path = os.path.join(MEDIA, f"clip-{w}x{h}.mp4")
    ffmpeg("-f", "lavfi", "-i", f"testsrc=s={w}x{h}:r={RATE}:d={SECONDS}", "-c:v", "mpeg4",
           "-q:v", "3", "-pix_fmt", "yuv420p", path)
    assert probe_size(path) == (w, h), f"{path}: ffmpeg did not keep the size {w}x{h}"
    return path


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path}: not a PNG"
    return struct.unpack(">II", head[16:24])


def sources(w, h, clip):
    """(stream id, source line, decoded frames that reach the sampling stage) per source kind."""
    return (
        (f"file-{w}x{h}", f'file: "{clip}"', SAMPLED),  # the sampler hands over sampled frames
        (f"uri-{w}x{h}", f'uri: "file://{clip}"', DECODED),
        (f"decodebin-{w}x{h}",
         f'pipeline: "filesrc location={clip} ! decodebin ! videoconvert"', DECODED),
        (f"rgb-{w}x{h}",
         f'pipeline: "videotestsrc num-buffers={DECODED} pattern=ball ! '
         f'video/x-raw,format=RGB,width={w},height={h},framerate={RATE}/1"', DECODED),
    )


def stream_cfg(sid, source, out):
    return f"""
  - id: {sid}
    {source}
    fps: {FPS}
    pruning: {{window: {WINDOW}, hop: {WINDOW}, window_budget: 16}}
    sinks:
      - safetensors_dir: "{out}/tokens"
      - overlay_dir: "{out}/overlay"
"""


HEAD = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  media_root: "{media}"
  restart_min_s: 0.05
  restart_max_s: 0.4
defaults:
  pruning: {{window: 4, hop: 4, window_budget: 16}}
streams:
"""


def setUpModule():
    os.makedirs(MEDIA)
    for w, h in SIZES:
        make_clip(w, h)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac",
           os.path.join(MEDIA, "audio-only.m4a"))


class EverySourceKind(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfg = HEAD.format(media=MEDIA)
        cls.expect = {}
        for w, h in SIZES:
            for sid, source, seen in sources(w, h, os.path.join(MEDIA, f"clip-{w}x{h}.mp4")):
                cfg += stream_cfg(sid, source, os.path.join(WORK, sid))
                cls.expect[sid] = (w, h, seen)
        cls.d = H.Daemon(cfg)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.d.stop()
        assert rc == 0, f"scriptd exited with {rc}:\n{cls.d.log_text()}"

    def test_every_stream_gives_every_sampled_frame_at_its_size(self):
        def ended():
            docs = {sid: self.d.stream(sid) for sid in self.expect}
            return docs if all(d["state"] in ("done", "failed") for d in docs.values()) else None
        try:
            docs = H.wait_for(ended, "every stream to end", deadline=H.DEADLINE * 3)
        except AssertionError as e:
            states = {sid: (d["state"], d["frames"], d["error"])
                      for sid, d in ((sid, self.d.stream(sid)) for sid in self.expect)}
            raise AssertionError(f"{e}: {states}")
        for sid, (w, h, seen) in self.expect.items():
            with self.subTest(stream=sid):
                s = docs[sid]
                self.assertEqual(s["state"], "done", s)
                self.assertEqual(s["frames"], SAMPLED, s)
                self.assertEqual(s["frames_seen"], seen, s)
                self.assertEqual(s["packets"], SAMPLED // WINDOW, s)
                out = os.path.join(WORK, sid)
                tokens = sorted(os.listdir(os.path.join(out, "tokens")))
                self.assertEqual(len(tokens), SAMPLED // WINDOW, tokens)
                frames = set()
                for name in tokens:
                    with open(os.path.join(out, "tokens", name), "rb") as f:
                        _, t = H.read_safetensors(f.read())
                    self.assertEqual(t["tokens"][1][0], 16, name)
                    frames |= set(t["frame"][2])
                self.assertTrue(frames <= set(range(SAMPLED)), frames)
                pngs = sorted(os.listdir(os.path.join(out, "overlay")))
                self.assertEqual(len(pngs), SAMPLED // WINDOW, pngs)
                for name in pngs:
                    self.assertEqual(png_size(os.path.join(out, "overlay", name)), (w, h), name)


class Jobs(unittest.TestCase):
    def test_jobs_give_every_sampled_frame_and_no_video_fails(self):
        d = H.Daemon(HEAD.format(media=MEDIA) + "  []\n")
        d.start()
        try:
            jobs = {}
            for path in [f"clip-{w}x{h}.mp4" for w, h in SIZES] + ["audio-only.m4a"]:
                status, doc = d.json("POST", "/v1/jobs", {"path": path, "fps": FPS, "budget": 24})
                self.assertEqual(status, 202, doc)
                jobs[path] = doc["id"]

            def finished(job):
                status, doc = d.json("GET", f"/v1/jobs/{job}")
                self.assertEqual(status, 200, doc)
                return doc if doc["state"] in ("done", "failed", "cancelled") else None
            for path, job in jobs.items():
                with self.subTest(path=path):
                    doc = H.wait_for(lambda: finished(job), f"job {job} to finish",
                                     deadline=H.DEADLINE * 2)
                    if path == "audio-only.m4a":
                        self.assertEqual(doc["state"], "failed", doc)
                        self.assertIn("no video stream", doc["error"], doc)
                        continue
                    self.assertEqual(doc["state"], "done", doc)
                    r = doc["result"]
                    self.assertEqual(r["frames"], SAMPLED, doc)
                    self.assertEqual([round(t, 6) for t in r["frame_times"]],
                                     [k / FPS for k in range(SAMPLED)])
                    self.assertEqual(r["tokens"], 24, doc)
        finally:
            rc, _ = d.stop()
        self.assertEqual(rc, 0, d.log_text())


class NoFrameIsAFailure(unittest.TestCase):
    def test_sources_without_a_frame_fail_and_exit_1(self):
        audio = os.path.join(MEDIA, "audio-only.m4a")
        cfg = HEAD.format(media=MEDIA)
        cfg += stream_cfg("uri-audio", f'uri: "file://{audio}"', os.path.join(WORK, "ua"))
        cfg += stream_cfg("file-audio", f'file: "{audio}"', os.path.join(WORK, "fa"))
        cfg += stream_cfg("empty", 'pipeline: "videotestsrc num-buffers=0 ! '
                          'video/x-raw,width=641,height=361"', os.path.join(WORK, "em"))
        d = H.Daemon(cfg)
        p = subprocess.Popen([H.BIN, "-c", d.config, "--exit-when-done", "--summary-json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=d.env)
        try:
            out, err = p.communicate(timeout=H.DEADLINE * 2)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise AssertionError("scriptd did not exit by itself:\n" + err.decode())
        log = err.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, log)
        states = {s["id"]: s for s in map(json.loads, out.decode().splitlines())}
        for sid, why in (("uri-audio", "no video stream"), ("file-audio", "no video stream"),
                         ("empty", "without a single frame")):
            with self.subTest(stream=sid):
                self.assertEqual(states[sid]["state"], "failed", states[sid])
                self.assertEqual(states[sid]["frames"], 0, states[sid])
                self.assertIn(why, states[sid]["error"], states[sid])


if __name__ == "__main__":
    unittest.main(verbosity=2)
