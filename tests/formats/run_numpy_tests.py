"""Runs test_formats_numpy_interop against files written by numpy, then checks with numpy the
files the C side wrote. Usage (from meson, with /usr/bin/python3):

    run_numpy_tests.py files|half PATH_TO_test_formats_numpy_interop
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import gen_numpy_files  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expected_values():
    """What test_writes_files_numpy_reads writes: (i - 17) * 12345 / 1024, exact in float32."""
    i = np.arange(35)
    return ((i - 17) * 12345).astype(np.float32) / np.float32(1024)


def verify_npy(out):
    v = expected_values()
    a = np.load(os.path.join(out, "c_f32_2d.npy"), allow_pickle=False)
    check(a.dtype == np.dtype("<f4") and a.shape == (5, 7), "c_f32_2d.npy: %s %s" % (a.dtype, a.shape))
    check(np.array_equal(a, v.reshape(5, 7)), "c_f32_2d.npy values")
    h = np.load(os.path.join(out, "c_f16_2d.npy"), allow_pickle=False)
    check(h.dtype == np.dtype("<f2") and h.shape == (5, 7), "c_f16_2d.npy: %s %s" % (h.dtype, h.shape))
    check(np.array_equal(h.view(np.uint16), v.astype(np.float16).reshape(5, 7).view(np.uint16)),
          "c_f16_2d.npy values differ from numpy's float16 rounding")
    c = np.load(os.path.join(out, "c_f32_1d.npy"), allow_pickle=False)
    check(c.shape == (7,) and np.array_equal(c, v[:7]), "c_f32_1d.npy")
    for name in ("c_f32_2d.npy", "c_f16_2d.npy", "c_f32_1d.npy"):
        with open(os.path.join(out, name), "rb") as f:
            major, minor = np.lib.format.read_magic(f)
            np.lib.format.read_array_header_1_0(f)
            check(f.tell() % 64 == 0, "%s: data does not start on a 64-byte boundary" % name)


def verify_safetensors(out):
    with open(os.path.join(out, "c.safetensors"), "rb") as f:
        image = f.read()
    (n,) = struct.unpack("<Q", image[:8])
    check((8 + n) % 8 == 0, "data section is not 8-byte aligned")
    text = image[8:8 + n].decode("utf-8")
    check(text.rstrip(" ").endswith("}"), "the header is padded with something but spaces")
    header = json.loads(text)
    check(list(header) == ["__metadata__", "a", "h", "ids", "s"], "order: %s" % list(header))
    check(header["__metadata__"] == {"format": "pt", "unicode": "\u00e9\u20ac\U0001F600"},
          "metadata: %r" % header["__metadata__"])
    data = image[8 + n:]
    v = expected_values()
    want = {
        "a": ("F32", [5, 7], v.astype("<f4").tobytes()),
        "h": ("F16", [35], v.astype("<f2").tobytes()),
        "ids": ("I64", [3], np.array([-1, 0, 1 << 40], dtype="<i8").tobytes()),
        "s": ("U8", [], bytes([7])),
    }
    offset = 0
    for name, (dtype, shape, blob) in want.items():
        entry = header[name]
        check(entry == {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}, "%s: %r" % (name, entry))
        check(data[offset:offset + len(blob)] == blob, "%s: data" % name)
        offset += len(blob)
    check(offset == len(data), "trailing bytes after the tensors")


def main():
    part, exe = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="sp-numpy-")
    try:
        gen_numpy_files.write_all(root, part)
        os.mkdir(os.path.join(root, "out"))
        result = subprocess.run([exe, root, part])
        if result.returncode != 0:
            print("%s failed with exit status %d" % (exe, result.returncode))
            return 1
        if part == "files":
            out = os.path.join(root, "out")
            verify_npy(out)
            verify_safetensors(out)
            print("numpy read back the .npy and safetensors files the library wrote")
        return 0
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
