"""Loads what core's embeddings encoder writes the way inference engines do: .npy with np.load,
torch archives with torch.load(weights_only=True) (Debian's python3-torch), and checks shape,
dtype and every value; bad requests exit 2 with a message. Usage (meson, /usr/bin/python3):

    check_embeds.py PATH_TO_write_embeds
"""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
except ImportError:  # the torch half is skipped, the NumPy half still runs
    torch = None


def expected(rows, cols, dtype):
    i = np.arange(rows * cols, dtype=np.float64)
    v = ((i % 251) - 125) / 16 + i / 4096
    return v.astype(np.float32).astype(dtype).reshape(rows, cols)


def main():
    exe = sys.argv[1]
    checked = 0
    with tempfile.TemporaryDirectory(prefix="scriptd-embeds-") as tmp:
        for fmt in ("npy", "torch"):
            for dt, np_dt in (("f32", np.float32), ("f16", np.float16)):
                for rows, cols in ((1, 1), (3, 5), (64, 4096), (577, 1024)):
                    out = os.path.join(tmp, f"e.{fmt}")
                    subprocess.run([exe, fmt, dt, str(rows), str(cols), out], check=True)
                    want = expected(rows, cols, np_dt)
                    data = open(out, "rb").read()
                    if fmt == "npy":
                        # What vLLM does with bytes that start with the NumPy magic.
                        assert data[:6] == b"\x93NUMPY", data[:6]
                        got = np.load(io.BytesIO(data), allow_pickle=False)
                    else:
                        if torch is None:
                            continue
                        t = torch.load(io.BytesIO(data), weights_only=True)
                        assert isinstance(t, torch.Tensor), type(t)
                        assert t.dtype == (torch.float32 if dt == "f32" else torch.float16)
                        assert t.is_contiguous() and not t.requires_grad
                        got = t.numpy()
                    assert got.shape == (rows, cols), (fmt, dt, got.shape)
                    assert got.dtype == np_dt, (fmt, dt, got.dtype)
                    assert np.array_equal(got, want), (fmt, dt, rows, cols)
                    checked += 1
        # Bad requests: a clear message and exit 2.
        for args in (["npy", "f32", "0", "4"], ["zip", "f32", "2", "2"]):
            p = subprocess.run([exe, *args, os.path.join(tmp, "bad")], capture_output=True,
                               text=True)
            assert p.returncode == 2 and "write_embeds:" in p.stderr, (args, p.stderr)
    print(f"{checked} embeddings loaded and compared")
    assert checked >= (16 if torch is not None else 8)


if __name__ == "__main__":
    main()
