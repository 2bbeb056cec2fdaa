#!/usr/bin/python3
"""Integration: token sets as chat requests for an OpenAI-compatible server that takes image
embeddings (vLLM with --enable-mm-embeds).

GET /v1/streams/{id}/tokens?format=vllm-chat and GET /v1/jobs/{id}/tokens?format=vllm-chat return
a chat body whose image_embeds parts are decoded here the way vLLM decodes them (bytes with the
NumPy magic: np.load; otherwise torch.load(weights_only=True)), for both embeddings formats and
both dtypes: every part is [k_w, D] with the stream's token width, the parts hold exactly the
reselected tokens (the same values as the safetensors reply, within float16 rounding), in time
order with their time spans as text before them, and the question comes last. This checks the
payload against vLLM's decoding rules; it is not vLLM itself, which cannot run here.
"""
import base64
import io
import json
import os
import re
import sys
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
