#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target (fuzz/*.c) into OUTDIR/<target>/.

Usage: fuzz/gen_seeds.py OUTDIR [SOURCE_ROOT]

Seeds are small valid (and a few nearly valid) inputs of each format, written from the format
descriptions (docs/wire-format.md, the .npy and safetensors specifications), so the fuzzer starts
from inputs that reach deep into each reader. Nothing here is committed as binary data. Needs
numpy (Debian's python3-numpy) for the .npy seeds.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- .npy -----------------------------------------------------------------------------------

def npy_bytes(arr, fortran=False):
    buf = io.BytesIO()
    np.save(buf, np.asfortranarray(arr) if fortran else arr)
    return buf.getvalue()


def npy_seeds(out):
    rng = np.random.default_rng(7)
    arrays = {
        "f32-2d": rng.standard_normal((3, 4)).astype("<f4"),
        "f32-1d": rng.standard_normal(5).astype("<f4"),
        "f64-2d": rng.standard_normal((2, 3)).astype("<f8"),
        "f16-2d": rng.standard_normal((2, 2)).astype("<f2"),
        "f32-be": rng.standard_normal((2, 3)).astype(">f4"),
        "f32-0rows": np.zeros((0, 4), "<f4"),
        "i32": np.arange(6, dtype="<i4").reshape(2, 3),
        "f32-3d": np.zeros((2, 2, 2), "<f4"),
    }
    for name, a in arrays.items():
        write(out, "npy", name + ".npy", npy_bytes(a))
    write(out, "npy", "f32-fortran.npy", npy_bytes(arrays["f32-2d"], fortran=True))
    # Version 2.0 header (4-byte header length).
    a = arrays["f32-2d"]
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
    header += " " * (-(len(header) + 13) % 64) + "\n"
    write(out, "npy", "v2.npy",
          b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + a.tobytes())
    write(out, "npy", "truncated.npy", npy_bytes(a)[:-5])


# ---- safetensors ----------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata=None, pad_header=True):
    header = {}
    data = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    if pad_header:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds(out):
    f32 = np.arange(6, dtype="<f4")
    f16 = np.arange(4, dtype="<f2")
    bf16 = (np.arange(4, dtype="<f4").view("<u4") >> 16).astype("<u2")
    write(out, "safetensors", "tokens.safetensors", safetensors_bytes({
        "tokens": ("F16", [2, 2], f16.tobytes()),
        "pts": ("I64", [2], np.array([0, 500000000], "<i8").tobytes()),
        "yx": ("I16", [2, 2], np.array([0, 1, 2, 3], "<i2").tobytes()),
    }, {"method": "script", "stream": "cam"}))
    write(out, "safetensors", "mixed.safetensors", safetensors_bytes({
        "a": ("F32", [2, 3], f32.tobytes()),
        "b": ("BF16", [4], bf16.tobytes()),
        "c": ("F64", [1], np.array([1.5], "<f8").tobytes()),
        "empty": ("F32", [0, 3], b""),
        "u8": ("U8", [3], b"\x01\x02\x03"),
        "bool": ("BOOL", [1], b"\x01"),
    }))
    write(out, "safetensors", "scalar.safetensors",
          safetensors_bytes({"s": ("F32", [], np.array([2.0], "<f4").tobytes())}))
    write(out, "safetensors", "empty.safetensors", safetensors_bytes({}, {"k": "v"}))
    write(out, "safetensors", "unpadded.safetensors",
          safetensors_bytes({"a": ("F32", [1], f32[:1].tobytes())}, pad_header=False))


# ---- JSON -----------------------------------------------------------------------------------

def json_seeds(out):
    docs = [
        '{"model_type": "clip", "vision_config": {"hidden_size": 768}, "x": [1, -2.5e-3, true, null]}',
        '[0, -0, 1e308, 1.7976931348623157e308, 5e-324, 123456789012345678901234567890, -9223372036854775808]',
        '"\\u00e9\\ud83d\\ude00 \\n\\t\\"\\\\\\/ \u00fc\u4e2d"',
        '{"a": {"b": {"c": {"d": [[[[]]]]}}}, "": "", "k\\u0000": 1}',
        '  \r\n\t{ } ',
        '{"__metadata__": {"method": "script"}, "t": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}',
        "[" * 64 + "]" * 64,
        '{"a": 1, "a": 2}',
        '[1, 2,]',
        '{"bad": "\\ud800"}',
    ]
    for i, d in enumerate(docs):
        write(out, "json", "doc%02d.json" % i, d)
    write(out, "json", "invalid-utf8.json", b'"\xc3\x28"')


# ---- wire format (docs/wire-format.md) ------------------------------------------------------

def wire_header(d, grid_h, grid_w, kind, dtype_code=2, window=4, hop=2, budget=8, tau=0.5,
                name=b"cam", version=2, mode=0):
    """version 1 has no packet mode (the byte is reserved, 0)."""
    fixed = struct.pack("<4sHHBBBBIHHIIIfHH", b"SPTS", version, 44 + len(name), dtype_code, kind,
                        mode, 0, d, grid_h, grid_w, window, hop, budget, tau, len(name), 0)
    crc = zlib.crc32(fixed + name) & 0xFFFFFFFF
    return fixed + struct.pack("<I", crc) + name


def wire_packet(kind, window, frames, tokens, d, dtype_code=2, budget=8, query=0, mode=0):
    """tokens: list of (pts, last_pts, frame, seen, y, x) in time then raster order."""
    vs = 2 if dtype_code == 2 else 4
    count = len(tokens)
    length = 72 + count * (32 + d * vs) + 4
    pts_first, pts_last = frames[0] * 500000000, frames[1] * 500000000
    body = struct.pack("<4sIQqqQQQIIBB6x", b"SPPK", length, window, pts_first, pts_last,
                       frames[0], frames[1], query, count, budget, kind, mode)
    for t in tokens:
        body += struct.pack("<qqQIHH", *t)
    values = np.linspace(-1, 1, count * d)
    body += values.astype("<f2" if vs == 2 else "<f4").tobytes()
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def wire_seeds(out):
    # The target's first byte is a control byte: 0 = fix lengths and checksums, feed in 1-byte
    # chunks; 0xf0 = whole input at once.
    d = 3
    window = wire_header(d, 2, 2, kind=1)
    p1 = wire_packet(1, 0, (0, 3), [(0, 500000000, 0, 2, 0, 0), (500000000, 500000000, 1, 1, 1, 1)], d)
    p2 = wire_packet(1, 1, (2, 5), [(1000000000, 2500000000, 2, 3, 0, 1)], d)
    resel = wire_packet(2, 2**64 - 1, (0, 5), [(0, 0, 0, 1, 0, 0), (0, 0, 3, 1, 1, 0)], d, query=0x1234)
    write(out, "wire", "window-f16", b"\xf0" + window + p1 + p2 + resel)
    write(out, "wire", "window-f16-bytewise", b"\x00" + window + p1 + p2)
    frame_h = wire_header(2, 1, 3, kind=0, dtype_code=1, window=0, hop=0, budget=2, name=b"")
    f0 = wire_packet(0, 0, (0, 0), [(0, 0, 0, 1, 0, 2)], 2, dtype_code=1, budget=2)
    f1 = wire_packet(0, 1, (1, 1), [], 2, dtype_code=1, budget=2)
    write(out, "wire", "frame-f32", b"\x40" + frame_h + f0 + f1)
    # Version 1 (no packet mode) and a delta stream of version 2.
    write(out, "wire", "window-f16-v1", b"\xf0" + wire_header(d, 2, 2, kind=1, version=1) + p1 + p2)
    delta = wire_header(d, 2, 2, kind=1, mode=1)
    d1 = wire_packet(1, 0, (0, 3), [(0, 500000000, 0, 2, 0, 0)], d, mode=1)
    d2 = wire_packet(1, 1, (2, 5), [(0, 0, 0, 1, 1, 1)], d, mode=1)  # seen before the window
    write(out, "wire", "window-delta", b"\xf0" + delta + d1 + d2)
    write(out, "wire", "header-only", b"\x80" + window)
    write(out, "wire", "truncated", b"\x20" + window + p1[:-7])
    write(out, "wire", "bad-crc-kept", b"\x31" + window + p1[:-1] + b"\x00")


# ---- YAML config ----------------------------------------------------------------------------

def config_seeds(out, root):
    cdir = os.path.join(root, "configs")
    for name in sorted(os.listdir(cdir)):
        if name.endswith(".yaml"):
            with open(os.path.join(cdir, name), "rb") as f:
                write(out, "config", name, f.read())
    inline = [
        'server:\n  listen: "[::1]:0"\n  log_level: debug\n',
        "defaults:\n  pruning: {method: qcsp, window: 4, hop: 2, tau: 0.3}\n"
        "streams:\n  - {id: a, file: a.mp4, fps: 2}\n  - id: b\n    uri: rtsp://cam/1\n"
        "    query: {text: \"red car\"}\n    sinks:\n      - follow: true\n"
        "      - scriptsink: tcp://127.0.0.1:9\n",
        "streams:\n- id: x\n  pipeline: 'videotestsrc ! fakesink'\n  encoder:\n    image_size: 224\n",
        "anchors:\n  a: &enc {backend: patch}\nstreams:\n  - id: y\n    file: y.mp4\n    encoder: *enc\n",
    ]
    for i, text in enumerate(inline):
        write(out, "config", "inline%d.yaml" % i, text)


# ---- CLIP / SigLIP config.json (+ NUL + preprocessor_config.json) ---------------------------

def clip_config_seeds(out):
    clip = {
        "model_type": "clip", "projection_dim": 512,
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                          "num_hidden_layers": 12, "image_size": 224, "patch_size": 32,
                          "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5},
        "text_config": {"vocab_size": 49408, "max_position_embeddings": 77, "bos_token_id": 49406,
                        "eos_token_id": 49407, "pad_token_id": 1},
    }
    siglip = {"model_type": "siglip",
              "vision_config": {"hidden_size": 768, "image_size": 224, "patch_size": 16,
                                "hidden_act": "gelu_pytorch_tanh", "vision_use_head": True},
              "text_config": {"vocab_size": 32000}}
    vision = {"model_type": "clip_vision_model", "hidden_size": 1024, "num_attention_heads": 16,
              "image_size": 336, "patch_size": 14}
    pre_clip = {"image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
                "do_center_crop": True, "crop_size": {"height": 224, "width": 224}}
    pre_siglip = {"image_mean": 0.5, "image_std": [0.5, 0.5, 0.5], "resample": 2,
                  "size": {"height": 224, "width": 224}}
    write(out, "clip-config", "clip", json.dumps(clip))
    write(out, "clip-config", "clip+pre", json.dumps(clip) + "\0" + json.dumps(pre_clip))
    write(out, "clip-config", "siglip+pre", json.dumps(siglip) + "\0" + json.dumps(pre_siglip))
    write(out, "clip-config", "vision", json.dumps(vision))
    write(out, "clip-config", "siglip-vision", json.dumps({"model_type": "siglip_vision_model"}))


# ---- images ---------------------------------------------------------------------------------

def png_bytes(pixels, color_type):
    """pixels: uint8 array H x W x C for the PNG colour type (0 gray, 2 RGB, 6 RGBA)."""
    h, w = pixels.shape[:2]
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + \
        chunk(b"IEND", b"")


def bmp_bytes(rgb):
    h, w = rgb.shape[:2]
    row = w * 3 + (-(w * 3) % 4)
    data = b"".join(rgb[y, :, ::-1].tobytes().ljust(row, b"\0") for y in range(h - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    return header + info + data


def image_seeds(out):
    y, x = np.mgrid[0:16, 0:24]
    rgb = np.stack([x * 10, y * 15, (x + y) * 5], axis=-1).astype(np.uint8)
    write(out, "image", "rgb.png", png_bytes(rgb, 2))
    write(out, "image", "gray.png", png_bytes((x * 10).astype(np.uint8)[..., None], 0))
    rgba = np.concatenate([rgb, np.full((16, 24, 1), 200, np.uint8)], axis=-1)
    write(out, "image", "rgba.png", png_bytes(rgba, 6))
    write(out, "image", "one-pixel.png", png_bytes(rgb[:1, :1], 2))
    write(out, "image", "rgb.bmp", bmp_bytes(rgb))
    ppm = b"P6\n24 16\n255\n" + rgb.tobytes()
    write(out, "image", "rgb.ppm", ppm)
    write(out, "image", "truncated.png", png_bytes(rgb, 2)[:60])
    return png_bytes(rgb[:4, :4], 2)


# ---- HTTP requests (see fuzz_http.c for the layout) -----------------------------------------

METHODS = {"GET": 0, "POST": 1, "DELETE": 2, "HEAD": 3}
CTYPES = {"json": 0, "png": 2, "multipart": 3, "text": 4, None: 5, "jpeg": 6}
ROUTES = ["", "/healthz", "/metrics", "/v1/streams", "/v1/streams/cam", "/v1/streams/cam/query",
          "/v1/streams/cam/tokens", "/v1/streams/cam/follow", "/v1/streams/nope/query",
          "/v1/jobs", "/v1/jobs/", "/v1/streams/"]


def http_request(method, route, target="", body=b"", ctype="json"):
    if isinstance(body, str):
        body = body.encode()
    b0 = METHODS[method] | CTYPES[ctype] << 3
    return bytes([b0, ROUTES.index(route)]) + target.encode() + b"\n" + body


def http_seeds(out, png):
    seeds = {
        "healthz": http_request("GET", "/healthz"),
        "metrics": http_request("GET", "/metrics"),
        "streams": http_request("GET", "/v1/streams"),
        "stream": http_request("GET", "/v1/streams/cam"),
        "stream-head": http_request("HEAD", "/v1/streams/cam"),
        "query-get": http_request("GET", "/v1/streams/cam/query"),
        "query-text": http_request("POST", "/v1/streams/cam/query", "", '{"text": "a red car"}'),
        "query-embedding": http_request("POST", "/v1/streams/cam/query", "",
                                        '{"embedding": [[0.1, 0.2, 0.3], [1, 2, 3]]}'),
        "query-embedding-row": http_request("POST", "/v1/streams/cam/query", "",
                                            '{"embedding": [0.5, -1e3, 7]}'),
        "query-base64": http_request("POST", "/v1/streams/cam/query", "",
                                     '{"embedding": {"base64": "AACAPwAAAEA=", "rows": 1, "width": 2}}'),
        "query-image-path": http_request("POST", "/v1/streams/cam/query", "?mode=mean",
                                         '{"image": "red.png"}'),
        "query-image-escape": http_request("POST", "/v1/streams/cam/query", "",
                                           '{"image": "../../etc/passwd"}'),
        "query-image-body": http_request("POST", "/v1/streams/cam/query", "?mode=all", png, "png"),
        "query-multipart": http_request(
            "POST", "/v1/streams/cam/query", "",
            b"--b\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\npooled\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--b--\r\n", "multipart"),
        # a part whose closing boundary follows its headers at once: libsoup 3.2 gives it a
        # length of (gsize)-2 (found by this fuzzer)
        "query-multipart-unterminated-part": http_request(
            "POST", "/v1/streams/cam/query", "",
            b"--b\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\n--b--\r\n",
            "multipart"),
        "query-delete": http_request("DELETE", "/v1/streams/cam/query"),
        "tokens": http_request("GET", "/v1/streams/cam/tokens", "?budget=16&since=1.5&until=30"),
        "tokens-bad": http_request("GET", "/v1/streams/cam/tokens", "?budget=0&since=-1"),
        "follow": http_request("GET", "/v1/streams/cam/follow"),
        "unknown-stream": http_request("POST", "/v1/streams/nope/query", "", '{"text": "x"}'),
        "jobs": http_request("GET", "/v1/jobs"),
        "job-submit": http_request("POST", "/v1/jobs", "",
                                   '{"path": "red.png", "fps": 2, "budget": 8, "mode": "mean", '
                                   '"query": {"embedding": [1, 2, 3]}}'),
        "job-plain": http_request("POST", "/v1/jobs", "", '{"path": "red.png", "fps": 0.5}'),
        "job-text": http_request("POST", "/v1/jobs", "", '{"path": "notes.txt", "query": {"text": "x"}}'),
        "job-missing": http_request("POST", "/v1/jobs", "", '{"path": "nothing.mp4"}'),
        "job-unknown-member": http_request("POST", "/v1/jobs", "", '{"path": "a", "speed": 2}'),
        "job-get": http_request("GET", "/v1/jobs/", "job-000001-00000000"),
        "job-delete": http_request("DELETE", "/v1/jobs/", "job-000001-00000000"),
        "job-tokens": http_request("GET", "/v1/jobs/", "job-000001-00000000/tokens"),
        "raw-path": http_request("GET", "", "/v1/streams/cam/tokens?budget=3"),
        "not-found": http_request("GET", "", "/nothing/here?x=%00"),
        "method-not-allowed": http_request("DELETE", "/v1/streams"),
        "bad-json": http_request("POST", "/v1/streams/cam/query", "", '{"text": '),
        "wrong-type": http_request("POST", "/v1/streams/cam/query", "", "text", "text"),
    }
    for name, data in seeds.items():
        write(out, "http", name, data)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    root = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    npy_seeds(out)
    safetensors_seeds(out)
    json_seeds(out)
    wire_seeds(out)
    config_seeds(out, root)
    clip_config_seeds(out)
    png = image_seeds(out)
    http_seeds(out, png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
