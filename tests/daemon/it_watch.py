#!/usr/bin/python3
"""Integration: standing questions (streams[].watch) on a live stream, asked of the stand-in
OpenAI-compatible server of it_mllm.py (stdlib, loopback; it decodes every image_embeds part the
way vLLM does, but it is not vLLM).

A live test pattern encoded by a small random-weight CLIP model (tests/encode/gen_clip.py, whose
text tower encodes the question) asks its question every 2 windows. Checks:
- the answers arrive as watch event records on GET /v1/streams/{id}/follow?events=watch, with the
  windows they cover and the chat's windows inside that span, and are counted in /metrics;
- a follow client that does not ask for events still gets a plain token stream (core's reader
  reads it);
- a slow upstream (past mllm.timeout_s) gives skipped counts and a timeout event while frames and
  packets keep flowing: the stream is never blocked;
- an upstream error becomes an error event and scriptd_watch_failed_total{reason="upstream_error"};
- scriptd --check refuses a watch without mllm.url, on the patch encoder, on a CLIP model without
  text tower, and with every_windows 0, naming the key.
"""
import http.client
import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402
from it_mllm import StandIn  # noqa: E402

FIXTURES = os.environ.get("SCRIPTD_CLIP_FIXTURES", "")
CLIP = os.path.join(FIXTURES, "clip_f32")
VISION_ONLY = os.path.join(FIXTURES, "clip_vision_only")
QUESTION = "Is the ball moving?"

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: debug
mllm:
  url: "{url}"
  token_file: "{token}"
  timeout_s: 2
  max_tokens: 32
streams:
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1"
    fps: 5
    encoder:
      backend: clip
      model: "{model}"
    pruning:
      window: 4
      hop: 2
      window_budget: 8
    sinks:
      - follow: true
    watch:
      - question: "{question}"
        every_windows: 2
        budget: 6
"""


class FollowReader:
    """Reads a follow response in the background: the token stream's header, its packets
    (SPPK) and, when asked for, the event records (SPEV) between them, each checked."""

    def __init__(self, d, path):
        self.conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.kinds = []              # b"SPPK" / b"SPEV" in arrival order
        self.events = queue.Queue()  # decoded event JSON objects
        self.packets = 0
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        if self.status == 200:
            self.thread.start()

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.resp.read(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _run(self):
        try:
            head = self._read(8)
            assert head[:4] == b"SPTS", head
            (hlen,) = struct.unpack_from("<H", head, 6)
            self._read(hlen - 8)
            while True:
                head = self._read(8)
                magic, length = head[:4], struct.unpack_from("<I", head, 4)[0]
                rest = self._read(length - 8)
                record = head + rest
                self.kinds.append(magic)
                if magic == b"SPPK":
                    self.packets += 1
                elif magic == b"SPEV":
                    kind, reserved = struct.unpack_from("<HH", record, 8)
                    assert kind == 1 and reserved == 0, (kind, reserved)
                    (crc,) = struct.unpack_from("<I", record, length - 4)
                    assert crc == zlib.crc32(record[:length - 4]), "event checksum"
                    self.events.put(json.loads(record[12:length - 4].decode("utf-8")))
                else:
                    raise AssertionError(f"unknown record {magic!r}")
        except EOFError:
            pass
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def next_event(self, pred, what, deadline=60):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                ev = self.events.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            if pred(ev):
                return ev
        raise AssertionError(f"no follow event: {what} (reader error: {self.error})")

    def close(self):
        self.conn.close()


def metric(d, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return d.metrics().get(f"{name}{{{want}}}", 0.0)


@unittest.skipUnless(os.path.isdir(CLIP), "the CLIP fixtures (python3-torch) are not built")
class Watch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = StandIn(width=0)
        cls.tmp = H.tempfile.mkdtemp(prefix="scriptd-watch-")
        token = os.path.join(cls.tmp, "token")
        with open(token, "w") as f:
            f.write("s3cret\n")
        cls.d = H.Daemon(CONFIG.format(url=cls.srv.url, token=token, model=CLIP,
                                       question=QUESTION))
        cls.d.start()
        st = cls.d.wait_stream("live", lambda s: s["token_width"] > 0, "the first frame")
        cls.srv.width = st["token_width"]  # every image_embeds part must have it

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.d.stop()
        cls.srv.shutdown()
        H.shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, f"scriptd exited with {rc}"

    def follow(self, events="watch"):
        path = "/v1/streams/live/follow" + (f"?events={events}" if events else "")
        r = FollowReader(self.d, path)
        self.assertEqual(r.status, 200)
        self.addCleanup(r.close)
        return r

    def test_answers_are_follow_events_with_their_windows(self):
        self.srv.mode = "ok"
        r = self.follow()
        answered_before = metric(self.d, "scriptd_watch_answered_total", stream="live", watch=0)
        ev = r.next_event(lambda e: e["outcome"] == "answer", "an answer")
        self.assertEqual(ev["event"], "watch")
        self.assertEqual(ev["stream"], "live")
        self.assertEqual(ev["watch"], 0)
        self.assertEqual(ev["question"], QUESTION)
        # every_windows 2: the latest two window packets, their span in seconds.
        self.assertEqual(ev["window_last"] - ev["window_first"], 1)
        self.assertLess(ev["pts_first"], ev["pts_last"])
        self.assertEqual(ev["tokens"], 6)
        self.assertEqual(sum(w["tokens"] for w in ev["windows"]), 6)
        for w in ev["windows"]:
            self.assertLessEqual(w["pts_first"], w["pts_last"])
            self.assertLessEqual(w["pts_first"], ev["pts_last"] + 1e-9)
            self.assertGreaterEqual(w["pts_last"], ev["pts_first"] - 1e-9)
        n = len(ev["windows"])
        self.assertEqual(ev["answer"], f"{n} windows, 6 tokens: {QUESTION}")
        self.assertEqual(set(ev["latency_ms"]), {"select", "build", "mllm"})
        # What the stand-in received: the question last, the tokens in the model's width.
        shapes, body = self.srv.requests[-1]
        self.assertEqual(body["messages"][0]["content"][-1]["text"], QUESTION)
        self.assertEqual(body["max_tokens"], 32)
        self.assertEqual(sum(shapes), 6)
        # Events come between packets, and the answers are counted and logged.
        self.assertIn(b"SPPK", r.kinds)
        H.wait_for(lambda: metric(self.d, "scriptd_watch_answered_total", stream="live",
                                  watch=0) > answered_before, "the answer counted")
        self.assertGreater(metric(self.d, "scriptd_watch_asked_total", stream="live", watch=0), 0)
        H.wait_for(lambda: f"live: question 0 (windows {ev['window_first']}-" in
                   self.d.log_text(), "the answer in the log")

    def test_old_follow_readers_get_a_plain_token_stream(self):
        self.srv.mode = "ok"
        asked = metric(self.d, "scriptd_watch_answered_total", stream="live", watch=0)
        c = self.d.conn(timeout=30)
        c.request("GET", "/v1/streams/live/follow")
        resp = c.getresponse()
        self.assertEqual(resp.status, 200)
        data = b""
        end = time.monotonic() + 60
        # Read while at least two answers are given: none of them may show up here.
        while time.monotonic() < end and metric(self.d, "scriptd_watch_answered_total",
                                                stream="live", watch=0) < asked + 2:
            data += resp.read1(65536)
        c.close()
        stream = H.complete_wire_prefix(data)  # asserts every record is a packet
        self.assertNotIn(b"SPEV", data)
        path = os.path.join(self.d.dir, "plain.sptok")
        with open(path, "wb") as f:
            f.write(stream)
        rc, lines, err = H.inspect_with_core(path)
        self.assertEqual(rc, 0, err)
        # An unknown event kind is refused.
        status, doc = self.d.json("GET", "/v1/streams/live/follow?events=weather")
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "invalid_events")

    def test_slow_upstream_skips_and_never_blocks_the_stream(self):
        r = self.follow()
        skipped = metric(self.d, "scriptd_watch_skipped_total", stream="live", watch=0)
        timeouts = metric(self.d, "scriptd_watch_failed_total", stream="live", watch=0,
                          reason="upstream_timeout")
        frames = self.d.stream("live")["frames"]
        self.srv.mode = "slow"  # 4 s per request, past mllm.timeout_s (2 s)
        try:
            ev = r.next_event(lambda e: e["outcome"] == "error"
                              and e["error"]["code"] == "upstream_timeout", "a timeout")
            self.assertIn("timeout_s", ev["error"]["message"])
            # While the question waited, two windows a second kept coming: due questions were
            # skipped, not queued, and the stream went on.
            H.wait_for(lambda: metric(self.d, "scriptd_watch_skipped_total", stream="live",
                                      watch=0) > skipped, "skipped questions")
            self.assertGreater(metric(self.d, "scriptd_watch_failed_total", stream="live",
                                      watch=0, reason="upstream_timeout"), timeouts)
            self.assertGreater(self.d.stream("live")["frames"], frames + 5)
            packets = r.packets
            H.wait_for(lambda: r.packets > packets + 2, "packets while the MLLM is slow")
        finally:
            self.srv.mode = "ok"

    def test_upstream_error_is_an_error_event_and_a_metric(self):
        r = self.follow()
        before = metric(self.d, "scriptd_watch_failed_total", stream="live", watch=0,
                        reason="upstream_error")
        self.srv.mode = "error"
        try:
            ev = r.next_event(lambda e: e["outcome"] == "error"
                              and e["error"]["code"] == "upstream_error", "an upstream error")
            self.assertEqual(ev["error"]["status"], 500)
            self.assertIn("model overloaded", ev["error"]["message"])
            self.assertNotIn("answer", ev)
            H.wait_for(lambda: metric(self.d, "scriptd_watch_failed_total", stream="live",
                                      watch=0, reason="upstream_error") > before,
                       "the error counted")
        finally:
            self.srv.mode = "ok"


@unittest.skipUnless(os.path.isdir(VISION_ONLY), "the CLIP fixtures are not built")
class StartWithoutTextTower(unittest.TestCase):
    """Started (not --check) with a watch on a CLIP model without a text tower: the stream
    reports it when it starts (log, its error in /v1/streams) and runs all the same."""

    def test_reported_at_start_and_the_stream_runs(self):
        tmp = H.tempfile.mkdtemp(prefix="scriptd-watch-start-")
        self.addCleanup(H.shutil.rmtree, tmp, True)
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write("s3cret\n")
        d = H.Daemon(CONFIG.format(url="http://127.0.0.1:9/v1/chat/completions", token=token,
                                   model=VISION_ONLY, question=QUESTION))
        d.start()
        try:
            st = d.wait_stream("live", lambda s: s["frames"] > 2, "frames despite the watch")
            self.assertIn("standing questions: watch[0]", st.get("error") or "")
            self.assertIn("text", st["error"])
            self.assertIn("live: question 0 cannot be encoded", d.log_text())
        finally:
            rc, _ = d.stop()
        self.assertEqual(rc, 0)


class Check(unittest.TestCase):
    """scriptd --check refuses standing questions that cannot be asked, naming the key."""

    def check(self, text):
        tmp = H.tempfile.mkdtemp(prefix="scriptd-watch-check-")
        self.addCleanup(H.shutil.rmtree, tmp, True)
        cfg = os.path.join(tmp, "check.yaml")
        with open(cfg, "w") as f:
            f.write(text)
        p = subprocess.run([H.BIN, "--check", "-c", cfg], capture_output=True, text=True,
                           env=H.daemon_env(), timeout=120)
        return p.returncode, p.stdout + p.stderr

    def stream(self, encoder, watch='      - question: "Anyone at the gate?"\n'):
        return (f"streams:\n  - id: gate\n    file: \"{H.SAMPLE}\"\n{encoder}"
                f"    watch:\n{watch}")

    URL = 'mllm:\n  url: "http://127.0.0.1:9/v1/chat/completions"\n'

    def test_no_mllm_url(self):
        rc, out = self.check(self.stream(f'    encoder:\n      backend: clip\n'
                                         f'      model: "{CLIP}"\n'))
        self.assertEqual(rc, 2, out)
        self.assertIn("key 'streams[0].watch'", out)
        self.assertIn("set mllm.url", out)

    def test_patch_encoder(self):
        rc, out = self.check(self.URL + self.stream(""))
        self.assertEqual(rc, 2, out)
        self.assertIn("key 'streams[0].watch'", out)
        self.assertIn("the patch encoder has none", out)

    def test_every_windows_and_empty_question(self):
        enc = f'    encoder:\n      backend: clip\n      model: "{CLIP}"\n'
        rc, out = self.check(self.URL + self.stream(
            enc, '      - question: "q"\n        every_windows: 0\n'))
        self.assertEqual(rc, 2, out)
        self.assertIn("key 'streams[0].watch[0].every_windows'", out)
        rc, out = self.check(self.URL + self.stream(enc, '      - question: ""\n'))
        self.assertEqual(rc, 2, out)
        self.assertIn("key 'streams[0].watch[0].question'", out)

    @unittest.skipUnless(os.path.isdir(VISION_ONLY), "the CLIP fixtures are not built")
    def test_clip_model_without_text_tower(self):
        rc, out = self.check(self.URL + self.stream(
            f'    encoder:\n      backend: clip\n      model: "{VISION_ONLY}"\n'))
        self.assertEqual(rc, 2, out)
        self.assertIn("key 'streams[0].watch'", out)
        self.assertIn("no text tower", out)
        # The same stream with a text tower passes.
        rc, out = self.check(self.URL + self.stream(
            f'    encoder:\n      backend: clip\n      model: "{CLIP}"\n'))
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
