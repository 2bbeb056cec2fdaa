#!/usr/bin/python3
"""Integration: the streams half of the HTTP API on a real scriptd.

Two streams: `clip`, the demo video read by the FFmpeg sampler at 2 fps (it ends, and its history
stays queryable), and `live`, a live test pattern with a follow sink. Checks health, metrics that
move, the stream listing, queries (image upload, multipart, JSON embedding) changing the
selection, /tokens (valid safetensors, exact budget, positions, time ranges), follow (packets the
core reader accepts), the daemon sinks' files, and errors answered as JSON while the daemon keeps
serving.
"""
import base64
import os
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: info
  max_body_bytes: 256KiB
streams:
  - id: clip
    file: "{sample}"
    fps: 2
    pruning:
      window: 8
      hop: 8
      window_budget: 64
      history_bytes: 64MiB
    sinks:
      - safetensors_dir: "{dir}/tokens"
      - overlay_dir: "{dir}/overlay"
      - follow: true
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1"
    fps: 5
    encoder:
      image_size: 112
    pruning:
      window: 4
      hop: 2
      window_budget: 16
    sinks:
      - follow: true
"""


def positions(tensors):
    _, _, frame = tensors["frame"]
    _, _, yx = tensors["yx"]
    return [(frame[i], yx[2 * i], yx[2 * i + 1]) for i in range(len(frame))]


class StreamsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon("")
        with open(cls.d.config, "w") as f:
            f.write(CONFIG.format(sample=H.SAMPLE, dir=cls.d.dir))
        cls.d.start()
        # The clip is short: wait for it to end so that its history is complete.
        cls.d.wait_stream("clip", lambda s: s["state"] == "done", "state done")

    @classmethod
    def tearDownClass(cls):
        rc, took = cls.d.stop()
        if rc != 0:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"

    def assert_error(self, status, doc, want_status, want_code):
        self.assertEqual(status, want_status, doc)
        self.assertIn("error", doc)
        self.assertEqual(doc["error"]["code"], want_code, doc)
        self.assertTrue(doc["error"]["message"])
        # The daemon keeps serving after every refusal.
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)

    def tokens(self, query_string):
        status, hdrs, data = self.d.request("GET", f"/v1/streams/clip/tokens?{query_string}")
        self.assertEqual(status, 200, data[:300])
        self.assertEqual(hdrs["content-type"], "application/octet-stream")
        meta, t = H.read_safetensors(data)
        return hdrs, meta, t

    def test_healthz(self):
        status, doc = self.d.json("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc["streams"]["done"] + doc["streams"]["playing"], 2)

    def test_metrics_move(self):
        status, hdrs, data = self.d.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain; version=0.0.4"))
        text = data.decode()
        for family in ("scriptd_frames_total", "scriptd_tokens_in_total",
                       "scriptd_tokens_out_total", "scriptd_tokens_dropped_total",
                       "scriptd_selection_seconds", "scriptd_queue_depth_buffers",
                       "scriptd_source_restarts_total", "scriptd_http_requests_total"):
            self.assertIn(f"# TYPE {family} ", text)
        key = 'scriptd_frames_total{stream="live"}'
        first = H.parse_metrics(text)[key]
        H.wait_for(lambda: self.d.metrics()[key] > first, "live frames to grow")
        m = self.d.metrics()
        self.assertEqual(m['scriptd_frames_total{stream="clip"}'], 20)  # 10 s at 2 fps
        self.assertGreater(m['scriptd_tokens_in_total{stream="clip"}'],
                           m['scriptd_tokens_out_total{stream="clip"}'])
        self.assertGreater(m['scriptd_tokens_dropped_total{stream="clip",reason="temporal"}'], 0)
        self.assertGreater(m['scriptd_selection_seconds_count{stream="clip"}'], 0)
        self.assertGreater(m['scriptd_http_requests_total{route="/metrics",status="200"}'], 0)

    def test_streams_listing(self):
        status, doc = self.d.json("GET", "/v1/streams")
        self.assertEqual(status, 200)
        ids = [s["id"] for s in doc["streams"]]
        self.assertEqual(ids, ["clip", "live"])
        clip = doc["streams"][0]
        self.assertEqual(clip["source"]["kind"], "file")
        self.assertEqual(clip["frames"], 20)
        self.assertEqual(clip["token_width"], 256)
        self.assertEqual(clip["progress"], 1.0)
        self.assertLess(clip["tokens_out"], clip["tokens_in"])
        status, doc = self.d.json("GET", "/v1/streams/nope")
        self.assert_error(status, doc, 404, "not_found")
        self.assertIn("clip", doc["error"]["message"])

    def test_daemon_sinks_wrote_files(self):
        files = sorted(os.listdir(os.path.join(self.d.dir, "tokens")))
        self.assertEqual(len(files), 3, files)  # two full windows and the partial last one
        with open(os.path.join(self.d.dir, "tokens", files[0]), "rb") as f:
            meta, t = H.read_safetensors(f.read())
        self.assertEqual(t["tokens"][1], [64, 256])
        self.assertEqual(meta.get("stream"), "clip")
        pngs = os.listdir(os.path.join(self.d.dir, "overlay"))
        self.assertGreaterEqual(len(pngs), 1)
        with open(os.path.join(self.d.dir, "overlay", pngs[0]), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_tokens_exact_budget_and_positions(self):
        grid = self.d.stream("clip")["grid"]
        for budget in (1, 37, 100):
            hdrs, meta, t = self.tokens(f"budget={budget}")
            self.assertEqual(int(hdrs["x-scriptd-tokens"]), budget)
            self.assertEqual(t["tokens"][0], "F32")
            self.assertEqual(t["tokens"][1], [budget, 256])
            self.assertEqual(t["yx"][1], [budget, 2])
            self.assertEqual(t["pts"][1], [budget])
            pos = positions(t)
            self.assertEqual(len(set(pos)), budget, "a token position appears twice")
            for (_, y, x) in pos:
                self.assertTrue(0 <= y < grid[0] and 0 <= x < grid[1], (y, x, grid))
            self.assertEqual(pos, sorted(pos), "tokens are not in time then raster order")

    def test_tokens_time_range(self):
        hdrs, meta, t = self.tokens("budget=20&since=2.5&until=5")
        pts = t["pts"][2]
        self.assertEqual(len(pts), 20)
        self.assertTrue(all(p <= 5_000_000_000 for p in pts), pts)
        status, doc = self.d.json("GET", "/v1/streams/clip/tokens?since=5&until=2")
        self.assert_error(status, doc, 400, "invalid_parameter")
        status, doc = self.d.json("GET", "/v1/streams/clip/tokens?budget=zero")
        self.assert_error(status, doc, 400, "invalid_parameter")

    def test_query_changes_selection(self):
        _, _, before = self.tokens("budget=32")
        red = H.png_solid(40, 40, (255, 0, 0))
        status, doc = self.d.json("POST", "/v1/streams/clip/query", raw=red,
                                  headers={"Content-Type": "image/png"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["query"]["kind"], "image")
        self.assertEqual(doc["query"]["width"], 256)
        _, meta, after = self.tokens("budget=32")
        self.assertNotEqual(set(positions(before)), set(positions(after)),
                            "the query did not change the selection")
        self.assertEqual(self.d.stream("clip")["query"]["hash"], doc["query"]["hash"])
        # A different exemplar (multipart upload, mean of its tokens) selects differently again.
        boundary = "scriptdtestboundary"
        blue = H.png_solid(40, 40, (32, 96, 255))
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nmean\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
                f"filename=\"blue.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + blue + \
            f"\r\n--{boundary}--\r\n".encode()
        status, doc = self.d.json(
            "POST", "/v1/streams/clip/query", raw=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(status, 200, doc)
        self.assertIn("mean", doc["query"]["description"])
        # A part whose closing boundary follows its headers at once (libsoup gives it a length
        # of (gsize)-2): refused with a clear error, the daemon and the query unharmed.
        bad = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\n"
               f"--{boundary}--\r\n").encode()
        status, err = self.d.json(
            "POST", "/v1/streams/clip/query", raw=bad,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(status, 400, err)
        self.assertIn("well-formed end", err["error"]["message"])
        self.assertIn("mean", self.d.stream("clip")["query"]["description"])
        _, _, third = self.tokens("budget=32")
        self.assertNotEqual(set(positions(after)), set(positions(third)))
        # Clearing goes back to the diversity selection.
        status, doc = self.d.json("DELETE", "/v1/streams/clip/query")
        self.assertEqual(status, 200)
        self.assertIsNone(doc["query"])
        _, _, cleared = self.tokens("budget=32")
        self.assertEqual(positions(before), positions(cleared))

    def test_embedding_queries(self):
        row = [0.0] * 256
        row[3] = 1.0
        status, doc = self.d.json("POST", "/v1/streams/live/query", {"embedding": [row]})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["query"]["rows"], 1)
        raw = struct.pack("<512f", *(row + row))
        status, doc = self.d.json("POST", "/v1/streams/live/query", {
            "embedding": {"base64": base64.b64encode(raw).decode(), "rows": 2, "width": 256}})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["query"]["rows"], 2)
        status, doc = self.d.json("GET", "/v1/streams/live/query")
        self.assertEqual(doc["query"]["kind"], "embedding")
        # The element applies it: packets carry the query's hash.
        want = int(doc["query"]["hash"], 16)
        H.wait_for(lambda: self.follow_hash(want), "a packet with the new query hash")

    def follow_hash(self, want):
        data = self.follow_bytes(2.0)
        path = os.path.join(self.d.dir, "hash.sptok")
        with open(path, "wb") as f:
            f.write(H.complete_wire_prefix(data))
        rc, lines, err = H.inspect_with_core(path)
        return rc == 0 and any(f'"query_hash":"{want:016x}"' in ln for ln in lines)

    def follow_bytes(self, seconds):
        c = self.d.conn(timeout=30)
        c.request("GET", "/v1/streams/live/follow")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "application/vnd.scriptd.tokens")
        data = b""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            chunk = r.read1(65536) if hasattr(r, "read1") else r.read(4096)
            if not chunk:
                break
            data += chunk
        c.close()
        return data

    def test_follow_packets_pass_the_core_reader(self):
        data = self.follow_bytes(3.0)
        stream = H.complete_wire_prefix(data)
        self.assertGreater(len(stream), 0, "no stream header received")
        path = os.path.join(self.d.dir, "follow.sptok")
        with open(path, "wb") as f:
            f.write(stream)
        rc, lines, err = H.inspect_with_core(path)
        self.assertEqual(rc, 0, err)
        summary = [ln for ln in lines if '"format":"token-stream"' in ln]
        self.assertTrue(summary, lines)
        packets = int(summary[0].split('"packets":')[1].split(",")[0])
        self.assertGreaterEqual(packets, 2, lines)
        # A stream whose source ended has nothing more to send.
        status, doc = self.d.json("GET", "/v1/streams/clip/follow")
        self.assert_error(status, doc, 409, "stream_ended")

    def test_bad_queries(self):
        q = "/v1/streams/clip/query"
        status, doc = self.d.json("POST", q, {"text": "a red box"})
        self.assert_error(status, doc, 400, "unsupported_query")  # patch encoder: no text tower
        status, doc = self.d.json("POST", q, {"embedding": [[1.0, 2.0, 3.0]]})
        self.assert_error(status, doc, 400, "invalid_query")
        self.assertIn("256", doc["error"]["message"])
        status, doc = self.d.json("POST", q, {"embedding": [[1.0] * 256, [1.0] * 255]})
        self.assert_error(status, doc, 400, "invalid_query")
        status, doc = self.d.json("POST", q, {"embedding": {"base64": "AAAA", "rows": 1,
                                                            "width": 256}})
        self.assert_error(status, doc, 400, "invalid_query")
        status, doc = self.d.json("POST", q, {"text": "x", "embedding": [1.0]})
        self.assert_error(status, doc, 400, "invalid_query")
        status, doc = self.d.json("POST", q, raw=b'{"embedding": [[1, 2',
                                  headers={"Content-Type": "application/json"})
        self.assert_error(status, doc, 400, "invalid_json")
        # Two top-level values: json-glib would leak the first (LeakSanitizer at daemon exit).
        for _ in range(3):
            status, doc = self.d.json("POST", q, raw=b'{"text": "x"} {"b": 2}',
                                      headers={"Content-Type": "application/json"})
            self.assert_error(status, doc, 400, "invalid_json")
            self.assertIn("more than one JSON value", doc["error"]["message"])
            status, doc = self.d.json("POST", q, raw=b'"error"{"image": "x.png"}',
                                      headers={"Content-Type": "application/json"})
            self.assert_error(status, doc, 400, "invalid_json")
        status, doc = self.d.json("POST", q, raw=b"[" * 5000 + b"]" * 5000,
                                  headers={"Content-Type": "application/json"})
        self.assert_error(status, doc, 400, "invalid_json")
        status, doc = self.d.json("POST", q, raw=b"hello", headers={"Content-Type": "text/plain"})
        self.assert_error(status, doc, 415, "unsupported_media_type")
        status, doc = self.d.json("POST", q, raw=b"not an image at all",
                                  headers={"Content-Type": "image/png"})
        self.assert_error(status, doc, 415, "unsupported_image")  # not PNG or JPEG by its bytes
        status, doc = self.d.json("POST", q, raw=b"\x89PNG\r\n\x1a\n damaged",
                                  headers={"Content-Type": "image/png"})
        self.assert_error(status, doc, 400, "invalid_query")
        status, doc = self.d.json("POST", q, raw=b"\0" * (300 * 1024),
                                  headers={"Content-Type": "image/png"})
        self.assert_error(status, doc, 413, "payload_too_large")
        status, doc = self.d.json("PUT", q, {"text": "x"})
        self.assert_error(status, doc, 405, "method_not_allowed")
        status, doc = self.d.json("GET", "/v1/nothing")
        self.assert_error(status, doc, 404, "not_found")
        status, doc = self.d.json("POST", "/v1/streams/ghost/query", {"embedding": [1.0]})
        self.assert_error(status, doc, 404, "not_found")


if __name__ == "__main__":
    unittest.main(verbosity=2)
