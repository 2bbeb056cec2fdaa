"""Writes reference files for the numpy interop tests of core/formats.

Run with Debian's /usr/bin/python3 (python3-numpy). The safetensors Python package is not
available here, so safetensors files are written by hand with struct + json + numpy, laid out the
way the reference implementation does it (metadata first, tensors sorted by alignment then name,
contiguous data, header padded with spaces to a multiple of 8).

Everything goes into one directory, described by manifest.json, which the C side reads with the
library's own JSON reader:
  npy_ok:  [{file, rows, cols, f32}]              .npy files the reader must accept
  npy_bad: [{file, status, message}]              .npy files it must reject
  st_ok:   [{file, metadata, count, tensors: [{name, dtype, shape, raw, f32?}]}]
  st_bad:  [{file, status, message}]
  half:    {inputs, expected, halves, floats}      float32 <-> float16 reference (np.float16)
The .npy and safetensors cases ("files") and the float16 reference ("half") are written
separately, for two tests.
where raw / f32 / inputs / ... name files of little-endian raw values.
"""

import json
import os
import struct
import sys

import numpy as np

RNG = np.random.default_rng(20240607)

ST_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("float64"): "F64",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("uint8"): "U8",
}
ST_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "U8": 1,
            "BOOL": 1}


def float_to_bf16_bits(x):
    """Rounds float32 values to bfloat16 bit patterns (nearest even), as torch does."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_float(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


class Writer:
    def __init__(self, root):
        self.root = root
        self.manifest = {"npy_ok": [], "npy_bad": [], "st_ok": [], "st_bad": []}

    def path(self, name):
        return os.path.join(self.root, name)

    def raw(self, name, array, dtype):
        np.ascontiguousarray(array, dtype=dtype).tofile(self.path(name))
        return name

    # ---- .npy ----

    def npy_ok(self, name, array, version=None):
        with open(self.path(name), "wb") as f:
            if version is None:
                np.save(f, array)
            else:
                np.lib.format.write_array(f, array, version=version)
        rows, cols = (1, array.shape[0]) if array.ndim == 1 else array.shape
        f32 = self.raw(name + ".f32", array.astype(np.float32), "<f4")
        self.manifest["npy_ok"].append({"file": name, "rows": rows, "cols": cols, "f32": f32})

    def npy_bad(self, name, array, status, message):
        with open(self.path(name), "wb") as f:
            np.save(f, array)
        self.manifest["npy_bad"].append({"file": name, "status": status, "message": message})

    # ---- safetensors ----

    def safetensors(self, name, tensors, metadata=None, mangle=None):
        """tensors: {name: ndarray, or ("BF16", uint16 bits array)}. mangle(header_dict) may
        edit the header before it is written, for the invalid files."""
        entries = []
        for tname, value in tensors.items():
            if isinstance(value, tuple):
                dtype, array = value
            else:
                array = value
                dtype = ST_DTYPES[array.dtype]
            entries.append((tname, dtype, np.array(array, order="C")))  # keeps 0-d arrays
        # The reference writer orders by alignment (largest first), then by name.
        entries.sort(key=lambda e: (-ST_SIZES[e[1]], e[0]))
        header = {}
        if metadata is not None:
            header["__metadata__"] = metadata
        data = bytearray()
        for tname, dtype, array in entries:
            blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
            header[tname] = {"dtype": dtype, "shape": list(array.shape),
                             "data_offsets": [len(data), len(data) + len(blob)]}
            data += blob
        if mangle:
            mangle(header)
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        text += b" " * ((8 - (8 + len(text)) % 8) % 8)
        image = struct.pack("<Q", len(text)) + text + bytes(data)
        with open(self.path(name), "wb") as f:
            f.write(image)
        return entries, image

    def st_ok(self, name, tensors, metadata=None, sample_every=1):
        """Describes every sample_every-th tensor in the manifest (all are counted)."""
        entries, _ = self.safetensors(name, tensors, metadata)
        described = []
        for i, (tname, dtype, array) in enumerate(entries):
            if i % sample_every:
                continue
            t = {"name": tname, "dtype": dtype, "shape": list(array.shape),
                 "raw": self.raw("%s.%d.raw" % (name, i), array, array.dtype.newbyteorder("<"))}
            if dtype == "BF16":
                t["f32"] = self.raw("%s.%d.f32" % (name, i), bf16_bits_to_float(array), "<f4")
            elif dtype in ("F32", "F16", "F64"):
                t["f32"] = self.raw("%s.%d.f32" % (name, i), array.astype(np.float32), "<f4")
            described.append(t)
        self.manifest["st_ok"].append({"file": name, "metadata": metadata or {},
                                       "count": len(entries), "tensors": described})

    def st_bad(self, name, tensors, status, message, mangle=None, cut=None):
        _, image = self.safetensors(name, tensors, mangle=mangle)
        if cut is not None:
            with open(self.path(name), "wb") as f:
                f.write(image[:cut])
        self.manifest["st_bad"].append({"file": name, "status": status, "message": message})


def write_npy_cases(w):
    x = RNG.standard_normal((24, 40)).astype(np.float32)
    w.npy_ok("f32_2d.npy", x)
    w.npy_ok("f16_2d.npy", (x * 100).astype(np.float16))
    w.npy_ok("f32_1d.npy", x[3].copy())
    w.npy_ok("no_rows.npy", np.zeros((0, 8), np.float32))
    w.npy_ok("f16_1d.npy", x[5].astype(np.float16))
    w.npy_ok("f32_v2.npy", x, version=(2, 0))
    w.npy_ok("f16_v3.npy", x.astype(np.float16), version=(3, 0))
    w.npy_ok("f32_tokens.npy", RNG.standard_normal((576, 1152)).astype(np.float32))
    w.npy_ok("f32_single.npy", np.array([[1.5]], dtype=np.float32))
    specials = np.array([np.inf, -np.inf, np.nan, -0.0, 1e-45, 3.4e38], dtype=np.float32)
    w.npy_ok("f32_specials.npy", specials)
    with np.errstate(over="ignore"):
        w.npy_ok("f16_specials.npy", specials.astype(np.float16))

    w.npy_bad("fortran.npy", np.asfortranarray(x), "unsupported", "Fortran-order")
    w.npy_bad("big_endian.npy", x.astype(">f4"), "unsupported", "dtype '>f4': big-endian")
    w.npy_bad("float64.npy", x.astype(np.float64), "unsupported", "dtype '<f8'")
    w.npy_bad("int32.npy", x.astype(np.int32), "unsupported", "dtype '<i4'")
    w.npy_bad("bool.npy", x > 0, "unsupported", "dtype '|b1'")
    w.npy_bad("three_d.npy", x.reshape(4, 6, 40), "unsupported", "shape (4, 6, 40) has 3 dim")
    w.npy_bad("scalar.npy", np.float32(2.5), "unsupported", "shape () has 0 dimensions")
    w.npy_bad("no_cols.npy", np.zeros((8, 0), np.float32), "unsupported", "zero-width rows")
    w.npy_bad("structured.npy", np.zeros(3, dtype=[("a", "<f4"), ("b", "<f4")]),
              "unsupported", "structured dtypes")
    # Truncated: a valid file cut inside its data.
    with open(w.path("truncated.npy"), "wb") as f:
        np.save(f, x)
    size = os.path.getsize(w.path("truncated.npy"))
    os.truncate(w.path("truncated.npy"), size - 3)
    w.manifest["npy_bad"].append({"file": "truncated.npy", "status": "format",
                                  "message": "data is truncated"})


def write_safetensors_cases(w):
    x = RNG.standard_normal((6, 10)).astype(np.float32)
    w.st_ok("hf_style.safetensors", {
        "vision.tokens": x,
        "vision.tokens.f16": (x * 10).astype(np.float16).reshape(3, 2, 10),
        "embed.bf16": ("BF16", float_to_bf16_bits(x[0])),
        "double": x[1].astype(np.float64) * 1e10,
        "ids": np.array([-1, 0, 2**40, 2**62], dtype=np.int64),
        "i32": np.array([[-7, 9], [2**31 - 1, -2**31]], dtype=np.int32),
        "i16": np.array([-32768, 32767], dtype=np.int16),
        "mask": np.array([0, 1, 255], dtype=np.uint8),
        "scale": np.array(0.125, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }, metadata={"format": "pt", "source": "gen_numpy_files.py"})
    # ensure_ascii (the json default) escapes these as \\u sequences, surrogate pairs included.
    w.st_ok("unicode.safetensors", {
        "caf\u00e9.\u20ac": x[:2],
        "emoji.\U0001F600": x[2:4].astype(np.float16),
    }, metadata={"note": "na\u00efve \U0001F680 \"quoted\"\n"})
    many = {"layer.%04d.weight" % i: RNG.standard_normal(3).astype(np.float32)
            for i in range(2000)}
    w.st_ok("many_tensors.safetensors", many, sample_every=97)

    small = {"a": x[:2], "b": x[2:4]}

    def overlap(h):
        h["b"]["data_offsets"] = [40, 120]

    def bool_dtype(h):
        h["a"]["dtype"] = "BOOL"
        h["a"]["shape"] = [80]

    def mismatch(h):
        h["a"]["shape"] = [2, 11]

    def extra_key(h):
        h["a"]["layout"] = "C"

    def metadata_number(h):
        h["__metadata__"] = {"epoch": 3}

    w.st_bad("overlap.safetensors", small, "format", "overlap", mangle=overlap)
    w.st_bad("bool.safetensors", small, "unsupported", "unsupported dtype 'BOOL'",
             mangle=bool_dtype)
    w.st_bad("mismatch.safetensors", small, "format", "22 elements of F32 take 88 bytes",
             mangle=mismatch)
    w.st_bad("extra_key.safetensors", small, "format", "unexpected key 'layout'",
             mangle=extra_key)
    w.st_bad("metadata_number.safetensors", small, "format", "values must be strings",
             mangle=metadata_number)
    w.st_bad("truncated.safetensors", small, "format", "run past the end of the data section",
             cut=-5)
    w.st_bad("cut_header.safetensors", small, "format", "runs past the end of the file", cut=30)


def write_half_reference(w):
    """float32 -> float16 over ties, subnormals, the overflow boundary and random bit patterns,
    and float16 -> float32 for all 65536 halves, as numpy computes them."""
    halves = np.arange(0x7C00, dtype=np.uint32)
    lo = halves.astype(np.uint16).view(np.float16).astype(np.float64)
    hi = np.append(lo[1:], 65536.0)
    mid = ((lo + hi) / 2).astype(np.float32)  # exact: 12 significant bits
    ties = np.concatenate([mid, np.nextafter(mid, np.float32(0)),
                           np.nextafter(mid, np.float32(np.inf))]).view(np.uint32)
    subnormal = np.arange(0x32F00000, 0x38900000, 97, dtype=np.uint32)
    boundary = np.arange(0x477F0000, 0x47810000, dtype=np.uint32)
    random = RNG.integers(0, 2**32, size=1_000_000, dtype=np.uint64).astype(np.uint32)
    special = np.array([0, 0x7F800000, 0x7FC00000, 0x7F800001, 0x7F7FFFFF, 0x00000001],
                       dtype=np.uint32)
    inputs = np.concatenate([ties, subnormal, boundary, random, special])
    inputs = np.concatenate([inputs, inputs | np.uint32(0x80000000)])
    with np.errstate(over="ignore", invalid="ignore"):
        expected = inputs.view(np.float32).astype(np.float16).view(np.uint16)
    all_halves = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    floats = all_halves.view(np.float16).astype(np.float32)
    w.manifest["half"] = {
        "inputs": w.raw("half_inputs.u32", inputs, "<u4"),
        "expected": w.raw("half_expected.u16", expected, "<u2"),
        "halves": w.raw("half_all.u16", all_halves, "<u2"),
        "floats": w.raw("half_all.f32", floats, "<f4"),
    }


def write_all(root, part):
    """part: "files" (the .npy and safetensors cases) or "half" (the float16 reference)."""
    w = Writer(root)
    if part == "files":
        write_npy_cases(w)
        write_safetensors_cases(w)
    else:
        write_half_reference(w)
    with open(w.path("manifest.json"), "w") as f:
        json.dump(w.manifest, f, indent=1)


if __name__ == "__main__":
    write_all(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "files")
