#!/usr/bin/python3
"""Integration: token sets as chat requests for an OpenAI-compatible server that takes image
embeddings (vLLM with --enable-mm-embeds).

POST /v1/streams/{id}/ask goes to a stand-in OpenAI-compatible server (stdlib, loopback) that
checks the bearer token, decodes every image_embeds part the way vLLM does and answers; its
errors, garbage and slowness become 502 upstream_error and 504 upstream_timeout, and a stream
keeps running meanwhile.

GET /v1/streams/{id}/tokens?format=vllm-chat and GET /v1/jobs/{id}/tokens?format=vllm-chat return
a chat body whose image_embeds parts are decoded here the way vLLM decodes them (bytes with the
NumPy magic: np.load; otherwise torch.load(weights_only=True)), for both embeddings formats and
both dtypes: every part is [k_w, D] with the stream's token width, the parts hold exactly the
reselected tokens (the same values as the safetensors reply, within float16 rounding), in time
order with their time spans as text before them, and the question comes last. This checks the
payload against vLLM's decoding rules; it is not vLLM itself, which cannot run here.
"""
import base64
import http.server
import io
import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

import numpy as np  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  media_root: "{media}"
mllm:
  model: "llava-hf/llava-1.5-7b-hf"
  embeds_format: {fmt}
  embeds_dtype: {dtype}
defaults:
  pruning:
    window: 4
    hop: 2
    window_budget: 16
streams:
  - id: clip
    file: "{sample}"
    fps: 4
"""


def decode_like_vllm(b64):
    data = base64.b64decode(b64)
    if data[:6] == b"\x93NUMPY":
        return np.load(io.BytesIO(data), allow_pickle=False)
    if torch is None:
        raise unittest.SkipTest("python3-torch is not installed")
    return torch.load(io.BytesIO(data), weights_only=True).numpy()


def spans(text):
    m = re.fullmatch(r"<t=([0-9.]+)-([0-9.]+)s>", text)
    assert m, text
    return float(m.group(1)), float(m.group(2))


class ChatPayloads(unittest.TestCase):
    def check_body(self, body, want_tokens, dtype, question):
        doc = json.loads(body)
        self.assertEqual(doc["model"], "llava-hf/llava-1.5-7b-hf")
        (msg,) = doc["messages"]
        self.assertEqual(msg["role"], "user")
        parts = msg["content"]
        self.assertEqual(parts[-1], {"type": "text", "text": question})
        rows, last_start = [], -1.0
        for text, emb in zip(parts[0:-1:2], parts[1:-1:2]):
            self.assertEqual(text["type"], "text")
            a, b = spans(text["text"])
            self.assertLessEqual(a, b)
            self.assertGreaterEqual(a, last_start)  # time order
            last_start = a
            self.assertEqual(emb["type"], "image_embeds")
            arr = decode_like_vllm(emb["image_embeds"])
            self.assertEqual(arr.dtype, np.float16 if dtype == "f16" else np.float32)
            self.assertEqual(arr.ndim, 2)
            self.assertEqual(arr.shape[1], want_tokens.shape[1])
            rows.append(arr.astype(np.float32))
        self.assertGreater(len(rows), 1)
        got = np.concatenate(rows)
        self.assertEqual(got.shape, want_tokens.shape)
        tol = 1e-3 * np.abs(want_tokens).max() if dtype == "f16" else 0
        self.assertLessEqual(np.abs(got - want_tokens).max(), tol)

    def run_case(self, fmt, dtype):
        media = os.path.dirname(H.SAMPLE)
        d = H.Daemon(CONFIG.format(media=media, fmt=fmt, dtype=dtype, sample=H.SAMPLE)).start()
        try:
            d.wait_stream("clip", lambda s: s["state"] == "done", "the file to end")
            status, _, st = d.request("GET", "/v1/streams/clip/tokens?budget=24")
            self.assertEqual(status, 200)
            _, t = H.read_safetensors(st)
            dt, shape, values = t["tokens"]
            want = np.array(values, dtype=np.float32).reshape(shape)
            q = "What%20moves%3F"
            status, hdrs, body = d.request(
                "GET", f"/v1/streams/clip/tokens?budget=24&format=vllm-chat&question={q}")
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(hdrs["content-type"], "application/json")
            self.check_body(body, want, dtype, "What moves?")
            # A job's tokens, the same way.
            name = os.path.basename(H.SAMPLE)
            status, job = d.json("POST", "/v1/jobs", {"path": name, "fps": 2, "budget": 20})
            self.assertEqual(status, 202, job)
            H.wait_for(lambda: d.json("GET", f"/v1/jobs/{job['id']}")[1]["state"] == "done",
                       "the job to finish")
            status, _, st = d.request("GET", f"/v1/jobs/{job['id']}/tokens")
            _, t = H.read_safetensors(st)
            dt, shape, values = t["tokens"]
            want = np.array(values, dtype=np.float32).reshape(shape)
            status, _, body = d.request(
                "GET", f"/v1/jobs/{job['id']}/tokens?format=vllm-chat&question=Why")
            self.assertEqual(status, 200, body[:300])
            self.check_body(body, want, dtype, "Why")
            # Without mllm.url there is nobody to ask.
            status, doc = d.json("POST", "/v1/streams/clip/ask", {"question": "Why?"})
            self.assertEqual(status, 409, doc)
            self.assertEqual(doc["error"]["code"], "mllm_not_configured")
            # An unknown format is refused with the accepted ones named.
            status, doc = d.json("GET", "/v1/streams/clip/tokens?format=openai")
            self.assertEqual(status, 400, doc)
            self.assertIn("vllm-chat", doc["error"]["message"])
        finally:
            rc, _ = d.stop()
            self.assertEqual(rc, 0)

    def test_npy_f16(self):
        self.run_case("npy", "f16")

    def test_torch_f32(self):
        if torch is None:
            self.skipTest("python3-torch is not installed")
        self.run_case("torch", "f32")


class StandIn(http.server.ThreadingHTTPServer):
    """An OpenAI-compatible /v1/chat/completions that takes image embeddings, for the tests: not
    vLLM (which cannot run here), but it decodes the parts as vLLM does."""
    daemon_threads = True

    def __init__(self, width):
        super().__init__(("127.0.0.1", 0), StandInHandler)
        self.width = width     # the hidden size the parts must have
        self.mode = "ok"       # ok | error | garbage | slow
        self.requests = []     # (parts decoded: [(text or shape)], body)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1/chat/completions"


class StandInHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer s3cret":
            return self.reply(401, {"error": {"message": "bad token"}})
        mode = srv.mode
        if mode == "slow":
            time.sleep(4)  # past mllm.timeout_s: scriptd has given up and closed the connection
            return
        if mode == "error":
            return self.reply(500, {"error": {"message": "model overloaded"}})
        if mode == "garbage":
            return self.reply(200, b"<html>proxy error</html>")
        parts = body["messages"][0]["content"]
        shapes = []
        for part in parts:
            if part["type"] == "image_embeds":
                arr = decode_like_vllm(part["image_embeds"])
                if arr.ndim != 2 or arr.shape[1] != srv.width:
                    return self.reply(400, {"error": {"message": f"bad shape {arr.shape}"}})
                shapes.append(arr.shape[0])
        srv.requests.append((shapes, body))
        self.reply(200, {"model": body.get("model", "stand-in"), "choices": [
            {"message": {"role": "assistant",
                         "content": f"{len(shapes)} windows, {sum(shapes)} tokens: "
                                    + parts[-1]["text"]}}]})


ASK_CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
mllm:
  url: "{url}"
  token_file: "{token}"
  timeout_s: 1.5
  max_tokens: 64
defaults:
  pruning:
    window: 4
    hop: 2
    window_budget: 16
streams:
  - id: clip
    file: "{sample}"
    fps: 4
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1"
    fps: 5
    encoder:
      image_size: 112
"""


class Ask(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = StandIn(width=256)  # the patch encoder's token width
        cls.tmp = H.tempfile.mkdtemp(prefix="scriptd-ask-")
        token = os.path.join(cls.tmp, "token")
        with open(token, "w") as f:
            f.write("s3cret\n")
        cls.d = H.Daemon(ASK_CONFIG.format(url=cls.srv.url, token=token, sample=H.SAMPLE))
        cls.d.start()
        cls.d.wait_stream("clip", lambda s: s["state"] == "done", "the file to end")
        cls.d.wait_stream("live", lambda s: s["state"] == "playing", "playing")

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.d.stop()
        cls.srv.shutdown()
        H.shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, f"scriptd exited with {rc}"

    def ask(self, body, sid="clip"):
        return self.d.json("POST", f"/v1/streams/{sid}/ask", body)

    def test_answer_with_windows_and_evidence(self):
        self.srv.mode = "ok"
        status, doc = self.ask({"question": "What moves?", "budget": 12, "since": 0})
        self.assertEqual(status, 200, doc)
        shapes, body = self.srv.requests[-1]
        self.assertEqual(sum(shapes), 12)
        self.assertEqual(body["max_tokens"], 64)
        self.assertEqual(doc["answer"], f"{len(shapes)} windows, 12 tokens: What moves?")
        self.assertEqual(doc["tokens"], 12)
        self.assertEqual([w["tokens"] for w in doc["windows"]], shapes)
        self.assertEqual(len(doc["evidence"]), 12)
        for e in doc["evidence"]:
            self.assertLessEqual(e["pts"], e["last_pts"])
            self.assertGreaterEqual(e["y"], 0)
            self.assertGreaterEqual(e["x"], 0)
        starts = [w["pts_first"] for w in doc["windows"]]
        self.assertEqual(starts, sorted(starts))
        self.assertEqual(set(doc["latency_ms"]), {"select", "build", "mllm"})
        # The patch encoder has no text tower: the stream's query (none here) selects.
        self.assertIn("none", doc["selected_with"])

    def test_upstream_errors_and_garbage_are_502(self):
        self.srv.mode = "error"
        status, doc = self.ask({"question": "Anyone?"})
        self.assertEqual(status, 502, doc)
        self.assertEqual(doc["error"]["code"], "upstream_error")
        self.assertIn("500", doc["error"]["message"])
        self.assertIn("model overloaded", doc["error"]["message"])
        self.srv.mode = "garbage"
        status, doc = self.ask({"question": "Anyone?"})
        self.assertEqual(status, 502, doc)
        self.assertIn("not a JSON object", doc["error"]["message"])

    def test_slow_upstream_is_504_and_streams_run_on(self):
        self.srv.mode = "slow"
        before = self.d.stream("live")["frames"]
        result = {}
        t = threading.Thread(target=lambda: result.update(r=self.ask({"question": "Late?"})))
        t0 = time.monotonic()
        t.start()
        # While the ask waits for the MLLM, the API answers and the live stream moves on.
        time.sleep(0.5)
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)
        t.join(60)
        status, doc = result["r"]
        self.assertEqual(status, 504, doc)
        self.assertEqual(doc["error"]["code"], "upstream_timeout")
        self.assertLess(time.monotonic() - t0, 30)
        H.wait_for(lambda: self.d.stream("live")["frames"] > before, "the live stream to go on")

    def test_bad_requests(self):
        self.srv.mode = "ok"
        for body, code in (({}, "invalid_ask"), ({"question": ""}, "invalid_ask"),
                           ({"question": "q", "budget": 0}, "invalid_ask"),
                           ({"question": "q", "since": 5, "until": 1}, "invalid_ask"),
                           ({"question": "q", "colour": "red"}, "invalid_ask"),
                           ({"question": "q", "query": {"text": "a dog"}}, "unsupported_query")):
            status, doc = self.ask(body)
            self.assertEqual(status, 400, (body, doc))
            self.assertEqual(doc["error"]["code"], code, (body, doc))
        status, doc = self.ask({"question": "q"}, sid="nope")
        self.assertEqual(status, 404, doc)
        status, doc = self.ask({"question": "q", "since": 100000})
        self.assertEqual(status, 409, doc)
        self.assertEqual(doc["error"]["code"], "no_tokens")


if __name__ == "__main__":
    unittest.main(verbosity=2)
