#!/usr/bin/python3
"""Integration: honest failure states.

`file:` sources are read once: a file that cannot be opened (missing, not a media file, no video
stream) ends the stream `failed` with the reason and is never retried; a file cut short ends
`failed` with how far it got; a file with damaged packets ends `done` with the `damaged` count.
(Frame sizes of every source kind: it_frame_sizes.py.) --exit-when-done exits 1 when a stream
failed, gave no frame or skipped damaged data, and refuses (2) a source that never ends.
A short clip served over HTTP (a live source that keeps ending) is restarted with a growing
backoff. --check reports missing files the config names at their key. Temporary files a killed
process left in the sink directories are removed at start-up.
"""
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

WORK = tempfile.mkdtemp(prefix="scriptd-failures-")
H._dirs.append(WORK)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + list(args),
                   check=True, timeout=120)


def clip(name, size, seconds, rate=10):
    path = os.path.join(WORK, name)
    if not os.path.exists(path):
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}", "-c:v", "mpeg4",
               "-q:v", "3", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path)
    return path


def stream_cfg(sid, source, fps=2):
    return f"""
  - id: {sid}
    {source}
    fps: {fps}
    encoder: {{image_size: 56}}
    pruning: {{window: 4, hop: 4, window_budget: 8}}
"""


def run_to_end(config_text, args=("--exit-when-done",), deadline=H.DEADLINE * 2):
    """Runs scriptd on a config until it exits by itself; returns (rc, stdout, log)."""
    d = H.Daemon(config_text)
    p = subprocess.Popen([H.BIN, "-c", d.config] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=d.env)
    try:
        out, err = p.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("scriptd did not exit by itself:\n" + err.decode("utf-8", "replace"))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


HEAD = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  restart_min_s: 0.05
  restart_max_s: 0.4
streams:
"""


class FileSources(unittest.TestCase):
    def test_unopenable_files_fail_for_good(self):
        d = H.Daemon(HEAD
                     + stream_cfg("missing", f'file: "{WORK}/no-such-video.mp4"')
                     + stream_cfg("text", f'file: "{H.VIDEOS}/not-video.txt"')
                     + stream_cfg("audio", f'file: "{H.VIDEOS}/audio-only.wav"')
                     + stream_cfg("good", f'file: "{H.VIDEOS}/counter.mp4"'))
        d.start()
        try:
            for sid in ("missing", "text", "audio"):
                s = d.wait_stream(sid, lambda s: s["state"] == "failed", "failed")
                self.assertTrue(s["error"], s)
            # Many backoff periods later, still failed and never restarted.
            time.sleep(1.0)
            for sid in ("missing", "text", "audio"):
                s = d.stream(sid)
                self.assertEqual((s["state"], s["restarts"]), ("failed", 0), s)
            self.assertIn("no-such-video.mp4", d.stream("missing")["error"])
            d.wait_stream("good", lambda s: s["state"] == "done", "done")
            m = d.metrics()
            self.assertEqual(m['scriptd_source_errors_total{stream="missing"}'], 1)
            self.assertEqual(m['scriptd_source_restarts_total{stream="missing"}'], 0)
            status, doc = d.json("GET", "/healthz")
            self.assertEqual(doc["streams"]["failed"], 3, doc)
        finally:
            rc, _ = d.stop()
        self.assertEqual(rc, 0, d.log_text())

    def test_a_reload_starts_a_failed_file_again(self):
        late = os.path.join(WORK, "arrives-late.mp4")
        d = H.Daemon(HEAD + stream_cfg("late", f'file: "{late}"'))
        d.start()
        try:
            d.wait_stream("late", lambda s: s["state"] == "failed", "failed")
            shutil.copy(os.path.join(H.VIDEOS, "counter.mp4"), late)
            d.send_signal(signal.SIGHUP)
            s = d.wait_stream("late", lambda s: s["state"] == "done", "done after the reload")
            self.assertEqual(s["frames"], 20, s)
        finally:
            rc, _ = d.stop()
        self.assertEqual(rc, 0, d.log_text())

    def test_truncated_file_fails_with_how_far_it_got(self):
        rc, out, log = run_to_end(HEAD + stream_cfg("cut", f'file: "{H.VIDEOS}/truncated.mp4"'))
        self.assertEqual(rc, 1, log)
        self.assertIn("stream cut", out)
        self.assertRegex(out, r"stream cut .*: failed\n")
        self.assertRegex(out, r"last error +the file ended early .*: \d+ frames sampled, up to "
                              r"[\d.]+ s of the 10\.0 s")
        frames = int(re.search(r"frames +(\d+) sampled", out).group(1))
        self.assertGreater(frames, 0)
        self.assertLess(frames, 20)  # 10 s at 2 fps when whole

    def test_damaged_file_is_done_with_a_count_and_exit_1(self):
        rc, out, log = run_to_end(HEAD + stream_cfg("dmg", f'file: "{H.VIDEOS}/garbage.mp4"'),
                                  args=("--exit-when-done", "--summary-json"))
        self.assertEqual(rc, 1, log)
        import json
        s = json.loads(out.strip().splitlines()[0])
        self.assertEqual(s["state"], "done", s)
        self.assertGreater(s["damaged"], 0, s)
        self.assertGreater(s["frames"], 0, s)
        self.assertIn("damaged", log)

    def test_exit_when_done_fails_on_a_missing_file(self):
        rc, out, log = run_to_end(HEAD
                                  + stream_cfg("missing", f'file: "{WORK}/gone.mp4"')
                                  + stream_cfg("good", f'file: "{H.VIDEOS}/counter.mp4"'))
        self.assertEqual(rc, 1, log)
        self.assertRegex(out, r"stream missing .*: failed\n")
        self.assertRegex(out, r"stream good .*: done\n")
        self.assertIn("missing:", log)


class ExitWhenDone(unittest.TestCase):
    def refused(self, source):
        rc, out, log = run_to_end(HEAD + stream_cfg("live", source), deadline=60)
        self.assertEqual(rc, 2, log)
        self.assertIn("--exit-when-done: stream 'live' never ends", log)

    def test_refuses_a_live_uri(self):
        self.refused('uri: "rtsp://127.0.0.1:9/cam"')
        self.refused('uri: "http://127.0.0.1:9/clip.mp4"')

    def test_refuses_a_live_pipeline(self):
        self.refused('pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48"')
        self.refused('pipeline: "videotestsrc ! video/x-raw,width=64,height=48"')

    def test_a_finite_pipeline_runs_to_its_end(self):
        rc, out, log = run_to_end(HEAD + stream_cfg(
            "fin", 'pipeline: "videotestsrc num-buffers=20 ! video/x-raw,width=64,height=48,'
                   'framerate=10/1"'))
        self.assertEqual(rc, 0, log)
        self.assertRegex(out, r"stream fin .*: done\n")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class LiveBackoff(unittest.TestCase):
    def test_a_short_http_clip_backs_off(self):
        """The clip ends after ~1 s each time: well under 10 x restart_min_s, so each restart
        waits twice as long as the one before (not restart_min_s every time)."""
        path = clip("short.mp4", "64x48", 1)
        handler = lambda *a, **k: QuietHandler(*a, directory=WORK, **k)  # noqa: E731
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            d = H.Daemon(HEAD.replace("restart_min_s: 0.05", "restart_min_s: 0.5")
                         .replace("restart_max_s: 0.4", "restart_max_s: 8")
                         + stream_cfg("web", f'uri: "http://127.0.0.1:{srv.server_port}/'
                                             f'{os.path.basename(path)}"', fps=5),
                         # Unreffing a pipeline that ran souphttpsrc leaks 32 bytes inside
                         # GObject/GStreamer 1.22 (the shared soup session context; no scriptd
                         # allocation): leak checking is off for this process only.
                         env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"})
            d.start()
            try:
                def delays():
                    v = [float(x) for x in re.findall(r"web: [^\n]*retrying in ([\d.]+) s",
                                                      d.log_text())]
                    return v if len(v) >= 3 else None
                v = H.wait_for(delays, "three restarts of the HTTP clip", deadline=120)
                self.assertEqual(v[:3], [0.5, 1.0, 2.0], d.log_text())
                self.assertGreater(d.stream("web")["frames"], 0)
            finally:
                rc, _ = d.stop()
            self.assertEqual(rc, 0, d.log_text())
        finally:
            srv.shutdown()
            srv.server_close()


class Check(unittest.TestCase):
    def test_missing_files_are_reported_at_their_key(self):
        cfg = os.path.join(WORK, "check.yaml")
        with open(cfg, "w") as f:
            f.write(f"""server:
  token_file: "{WORK}/no-token"
defaults:
  encoder:
    backend: clip
    model: "{WORK}/no-model"
streams:
  - id: a
    file: "{WORK}/no-video.mp4"
    query:
      image: "{WORK}/no-image.png"
  - id: b
    file: "{H.VIDEOS}/counter.mp4"
    query:
      embedding: "{WORK}/no-query.npy"
""")
        p = subprocess.run([H.BIN, "--check", "-c", cfg], capture_output=True, text=True,
                           env=H.daemon_env(), timeout=120)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for pos, key, name in (("2:15", "server.token_file", "no-token"),
                               ("6:12", "defaults.encoder.model", "no-model"),
                               ("9:11", "streams[0].file", "no-video.mp4"),
                               ("11:14", "streams[0].query.image", "no-image.png"),
                               ("15:18", "streams[1].query.embedding", "no-query.npy")):
            self.assertRegex(p.stderr, rf"{re.escape(cfg)}:{pos}: key '{re.escape(key)}': "
                                       rf"[^\n]*{re.escape(name)}")
        self.assertNotIn("counter.mp4", p.stderr)


class StaleTempFiles(unittest.TestCase):
    def test_removed_at_start(self):
        d = H.Daemon("")
        out = os.path.join(d.dir, "out")
        os.makedirs(out)
        # The PID of a process that has exited: its temporary file is stale.
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = os.path.join(out, f"s-r1-w0.safetensors.tmp-{dead.pid}")
        # A running process's file (this test's) is someone's write in progress: kept.
        live = os.path.join(out, f"s-r1-w1.safetensors.tmp-{os.getpid()}")
        other = os.path.join(out, "notes.tmp-x")
        for p in (stale, live, other):
            with open(p, "w") as f:
                f.write("partial")
        with open(d.config, "w") as f:
            f.write(HEAD + stream_cfg("s", f'file: "{H.VIDEOS}/counter.mp4"')
                    + f'    sinks:\n      - safetensors_dir: "{out}"\n')
        d.start()
        try:
            self.assertFalse(os.path.exists(stale))
            self.assertTrue(os.path.exists(live))
            self.assertTrue(os.path.exists(other))
            self.assertIn("removed 1 temporary file", d.log_text())
        finally:
            d.stop(signal.SIGTERM)


if __name__ == "__main__":
    unittest.main(verbosity=2)
