#!/usr/bin/python3
"""scriptprune encode against gen_clip.py's LLaVA fixtures: the written tokens match the PyTorch
reference (post-projector, --no-projector, the class token first under "full"), yx and the
metadata say where each row comes from, --text-model adds the CLIP joint space, and bad input
exits 2 with a message naming the problem.

Usage: cli_encode.py SCRIPTPRUNE FIXTURE_DIR
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

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
model = fx(lv["dir"])
image = fx(lv["cases"][0]["npy"])
cases = [
    (["--model", model, "--image", os.path.join(tmp, "float.npy")], "dtype uint8"),
    (["--model", model, "--image", os.path.join(tmp, "gray.npy")], "(H, W, 3)"),
    (["--model", model, "--image", os.path.join(tmp, "fortran.npy")], "Fortran-order"),
    (["--model", model, "--image", os.path.join(tmp, "trunc.npy")], "data bytes"),
    (["--model", model, "--image", os.path.join(tmp, "text.npy")], "not a .npy file"),
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
print(f"scriptprune encode: {checked} outputs match PyTorch, {len(cases)} bad inputs exit 2")
