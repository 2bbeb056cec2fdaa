#!/usr/bin/python3
"""scriptprune encode against gen_clip.py's LLaVA fixtures: the written tokens match the PyTorch
reference (post-projector, --no-projector, the class token first under "full"), yx and the
metadata say where each row comes from, --text-model adds the CLIP joint space, PNG and JPEG
images (told apart by their first bytes) give the tokens of their pixels given as .npy, and bad
input (corrupt or truncated PNG/JPEG and CMYK JPEG included) exits 2 with a message naming the
problem.

Usage: cli_encode.py SCRIPTPRUNE FIXTURE_DIR
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

CLI, FX = sys.argv[1], sys.argv[2]
TOL = 1e-4


def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        dt = {"F32": np.float32, "I16": np.int16}[v["dtype"]]
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"])
    return out, meta


def run(*args):
    return subprocess.run([CLI, "encode", *args], capture_output=True, text=True, timeout=600)


def close(got, want, what):
    err = np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30)
    assert err <= TOL, f"{what}: relative error {err:.3g}"


def fx(name):
    return os.path.join(FX, name)


manifest = json.load(open(fx("manifest.json")))
tmp = tempfile.mkdtemp()
out = os.path.join(tmp, "out.safetensors")
checked = 0
for lv in manifest["llava"]:
    for projector in (True, False):
        case = lv["cases"][0]
        args = ["--model", fx(lv["dir"]), "--image", fx(case["npy"]), "--out", out]
        r = run(*args, *([] if projector else ["--no-projector"]))
        assert r.returncode == 0, r.stderr
        t, meta = read_st(out)
        want = np.load(fx(case["tokens" if projector else "features"]))
        assert t["tokens"].shape == want.shape, (t["tokens"].shape, want.shape)
        close(t["tokens"], want, f"{lv['name']} tokens (projector {projector})")
        assert "embed" not in t  # no joint space without --text-model
        g = int(np.sqrt(want.shape[0] - (1 if lv["cls"] else 0)))
        yx = [(-1, -1)] if lv["cls"] else []
        yx += [(i // g, i % g) for i in range(g * g)]
        assert t["yx"].tolist() == [list(p) for p in yx]
        assert meta["backend"] == "llava" and meta["layer"] == str(lv["layer"])
        assert meta["projector"] == ("linear_1-gelu-linear_2" if projector else "none")
        assert meta["class_token"] == ("first row" if lv["cls"] else "none")
        assert meta["model"] == fx(lv["dir"])
        checked += 1

# a CLIP folder as the text model: embed from its vision tower
lv = manifest["llava"][0]
j = lv["joint"]
r = run("--model", fx(lv["dir"]), "--image", fx(j["npy"]), "--out", out, "--text-model", fx(j["text_model"]))
assert r.returncode == 0, r.stderr
t, meta = read_st(out)
close(t["tokens"], np.load(fx(j["tokens"])), "tokens with a text model")
close(t["embed"], np.load(fx(j["embed"])), "embed from the text model")
assert meta["text_model"] == fx(j["text_model"])
# --layer overrides the config's vision_feature_layer
r = run("--model", fx(lv["dir"]), "--image", fx(j["npy"]), "--out", out, "--layer", "-1")
assert r.returncode == 0, r.stderr
assert read_st(out)[1]["layer"] == "3"

# PNG and JPEG: the same tokens as the same pixels given as .npy (the file names say nothing of
# the kind: it comes from the first bytes).


def png_bytes(samples, color_type, depth, palette=None, trns=None):
    """A PNG written by hand (zlib, filter 0) so that every colour type and depth is covered."""
    h, w = samples.shape[:2]

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = samples.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1)
    raw = b"".join(b"\0" + r.tobytes() for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def tokens_of(image_path):
    r = run("--model", model, "--image", image_path, "--out", out)
    assert r.returncode == 0, (image_path, r.stderr)
    return read_st(out)[0]["tokens"].copy()


def same_tokens_as_npy(name, data, pixels):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    npy = os.path.join(tmp, name + ".npy")
    np.save(npy, np.ascontiguousarray(pixels, dtype=np.uint8))
    got, want = tokens_of(path), tokens_of(npy)
    assert np.array_equal(got, want), f"{name}: tokens differ from the .npy of the same pixels"


def scale16(v):
    return ((v.astype(np.uint32) * 255 + 32895) >> 16).astype(np.uint8)


model = fx(lv["dir"])
rgb = np.load(fx(lv["cases"][0]["npy"]))
rng = np.random.default_rng(5)
grey = rgb[:, :, 1]
alpha = rng.integers(0, 256, grey.shape, dtype=np.uint8)
palette = rng.integers(0, 256, (8, 3), dtype=np.uint8)
index = grey // 32
rgb16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 257, rgb.shape, dtype=np.uint16)
grey16 = rgb16[:, :, 0]
pngs = [
    ("rgb8.img", png_bytes(rgb, 2, 8), rgb),
    ("grey8.img", png_bytes(grey, 0, 8), np.stack([grey] * 3, -1)),
    ("rgba8.img", png_bytes(np.dstack([rgb, alpha]), 6, 8), rgb),
    ("greyalpha8.img", png_bytes(np.dstack([grey, alpha]), 4, 8), np.stack([grey] * 3, -1)),
    ("palette.img", png_bytes(index, 3, 8, palette, bytes(range(0, 256, 32))), palette[index]),
    ("rgb16.img", png_bytes(rgb16, 2, 16), scale16(rgb16)),
    ("grey16.img", png_bytes(grey16, 0, 16), np.stack([scale16(grey16)] * 3, -1)),
]
for name, data, pixels in pngs:
    same_tokens_as_npy(name, data, pixels)
    checked += 1
# JPEG: against the pixels PIL decodes (Debian's python3-pil uses the same libjpeg-turbo)
for name, im in (("colour.jpg", Image.fromarray(rgb)), ("grey.jpg", Image.fromarray(grey))):
    path = os.path.join(tmp, name + ".src")
    im.save(path, "JPEG", quality=90)
    data = open(path, "rb").read()
    same_tokens_as_npy(name, data, np.asarray(Image.open(path).convert("RGB")))
    checked += 1

# bad input: exit 2, one clear line, no output file
bad = {}
img = np.load(fx(lv["cases"][0]["npy"]))
np.save(os.path.join(tmp, "float.npy"), img.astype(np.float32))
np.save(os.path.join(tmp, "gray.npy"), img[:, :, 0])
np.save(os.path.join(tmp, "fortran.npy"), np.asfortranarray(img))
with open(os.path.join(tmp, "trunc.npy"), "wb") as f:
    f.write(open(fx(lv["cases"][0]["npy"]), "rb").read()[:-5])
with open(os.path.join(tmp, "text.npy"), "w") as f:
    f.write("not numpy")
good_png = png_bytes(rgb, 2, 8)
good_jpg = open(os.path.join(tmp, "colour.jpg.src"), "rb").read()
idat = good_png.index(b"IDAT") + 4
idat_crc = idat + struct.unpack(">I", good_png[idat - 8:idat - 4])[0]
broken = {
    "trunc.png": good_png[: len(good_png) // 2],
    "sig.png": good_png[:8],
    "zlib.png": good_png[:idat] + bytes([good_png[idat] ^ 0xFF]) + good_png[idat + 1:],
    "crc.png": good_png[:idat_crc] + bytes([good_png[idat_crc] ^ 0xFF]) + good_png[idat_crc + 1:],
    "trunc.jpg": good_jpg[: len(good_jpg) // 2],
    "junk.jpg": b"\xff\xd8\xff" + bytes(rng.integers(0, 256, 500, dtype=np.uint8)),
}
for name, data in broken.items():
    with open(os.path.join(tmp, name), "wb") as f:
        f.write(data)
Image.fromarray(rgb).convert("CMYK").save(os.path.join(tmp, "cmyk.jpg"), "JPEG")
image = fx(lv["cases"][0]["npy"])
cases = [
    (["--model", model, "--image", os.path.join(tmp, "float.npy")], "dtype uint8"),
    (["--model", model, "--image", os.path.join(tmp, "gray.npy")], "(H, W, 3)"),
    (["--model", model, "--image", os.path.join(tmp, "fortran.npy")], "Fortran-order"),
    (["--model", model, "--image", os.path.join(tmp, "trunc.npy")], "data bytes"),
    (["--model", model, "--image", os.path.join(tmp, "text.npy")], "not a .npy, PNG or JPEG file"),
    (["--model", model, "--image", os.path.join(tmp, "trunc.png")], "not a readable PNG"),
    (["--model", model, "--image", os.path.join(tmp, "sig.png")], "truncated"),
    (["--model", model, "--image", os.path.join(tmp, "zlib.png")], "not a readable PNG"),
    (["--model", model, "--image", os.path.join(tmp, "crc.png")], "CRC error"),
    (["--model", model, "--image", os.path.join(tmp, "trunc.jpg")], "not a readable JPEG"),
    (["--model", model, "--image", os.path.join(tmp, "junk.jpg")], "not a readable JPEG"),
    (["--model", model, "--image", os.path.join(tmp, "cmyk.jpg")], "CMYK"),
    (["--model", model, "--image", os.path.join(tmp, "missing.npy")], "missing.npy"),
    (["--model", fx("broken_llava_act"), "--image", image], "projector_hidden_act 'relu'"),
    (["--model", fx("broken_llava_shard"), "--image", image], "names shard"),
    (["--model", model, "--image", image, "--layer", "x"], "--layer"),
    (["--model", model, "--image", image, "--layer", "9"], "layer 9 is outside"),
    (["--model", model, "--image", image, "--text-model", fx("llava_f16_sharded")], "no joint"),
    (["--image", image], "--model is required"),
]
for args, needle in cases:
    if os.path.exists(out):
        os.remove(out)
    r = run(*args, *(["--out", out] if "--model" in args else []))
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert needle in r.stderr, (args, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not os.path.exists(out)
print(f"scriptprune encode: {checked} outputs match PyTorch or their .npy pixels, "
      f"{len(cases)} bad inputs exit 2")
