#!/usr/bin/python3
"""scriptprune stream / inspect end to end, with an independent reader of the token-stream format
written from docs/wire-format.md (so the byte table is tested too) and of the safetensors output.

usage: cli_stream.py SCRIPTPRUNE
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

CLI = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args, expect=0):
    p = subprocess.run([CLI, *args], capture_output=True, text=True)
    if p.returncode != expect:
        failures.append(f"{args}: exit {p.returncode}, expected {expect}: {p.stderr.strip()}")
        print("FAIL:", args, p.returncode, p.stderr)
    return p


# ---- the independent wire reader (docs/wire-format.md) ----

def read_wire(path):
    data = open(path, "rb").read()
    magic, version, hlen, dtype, kind, mode, res0, d, gh, gw, window, hop, budget, tau, nlen, res1, \
        crc = struct.unpack_from("<4sHHBBBBIHHIIIfHHI", data, 0)
    assert magic == b"SPTS" and version == 2 and res0 == 0 and res1 == 0 and mode in (0, 1)
    assert hlen == 44 + nlen
    name = data[44:44 + nlen]
    assert zlib.crc32(data[:40] + name) == crc, "header crc"
    es = {1: 4, 2: 2}[dtype]
    hdr = dict(dtype=dtype, kind=kind, mode=mode, d=d, grid=(gh, gw), window=window, hop=hop, budget=budget,
               tau=tau, name=name.decode())
    off = hlen
    packets = []
    while off < len(data):
        pmagic, length = struct.unpack_from("<4sI", data, off)
        assert pmagic == b"SPPK"
        p = data[off:off + length]
        assert len(p) == length, "truncated"
        (w, pts0, pts1, f0, f1, qh, count, pbudget, pkind, pmode) = \
            struct.unpack_from("<QqqQQQIIBB", p, 8)
        assert p[66:72] == b"\0" * 6 and pmode == mode
        assert length == 72 + count * (32 + d * es) + 4
        assert zlib.crc32(p[:-4]) == struct.unpack_from("<I", p, length - 4)[0], "packet crc"
        info = np.frombuffer(p, dtype=np.dtype([("pts", "<i8"), ("last_pts", "<i8"),
                                                 ("frame", "<u8"), ("seen", "<u4"),
                                                 ("y", "<u2"), ("x", "<u2")]),
                             count=count, offset=72)
        vals = np.frombuffer(p, dtype="<f2" if es == 2 else "<f4", count=count * d,
                             offset=72 + 32 * count).astype(np.float32).reshape(count, d)
        packets.append(dict(window=None if w == 2**64 - 1 else w, pts_first=pts0, pts_last=pts1,
                            frame_first=f0, frame_last=f1, query_hash=qh, count=count,
                            budget=pbudget, kind=pkind, mode=pmode, info=info, tokens=vals))
        off += length
    return hdr, packets


def read_safetensors(path):
    data = open(path, "rb").read()
    (hl,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + hl])
    meta = header.pop("__metadata__", {})
    base = 8 + hl
    types = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2"}
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[base + a:base + b], dtype=types[t["dtype"]]).reshape(
            t["shape"])
        out[name + ".dtype"] = t["dtype"]
    return out, meta


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, (dtype, arr) in tensors.items():
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---- a small video: banded background, a textured object moving 2 patches a frame ----

def make_video(T=20, H=8, W=8, D=24, seed=3):
    rng = np.random.default_rng(seed)
    bands = rng.standard_normal((4, D))
    tex = 0.3 * rng.standard_normal((H, W, D))
    obj = rng.standard_normal((3, 3, D)) + 2 * rng.standard_normal(D)
    frames = []
    for t in range(T):
        f = bands[(np.arange(H) * 4) // H][:, None, :] + tex
        y0, x0 = t % 5, (2 * t) % 6
        f[y0:y0 + 3, x0:x0 + 3] = obj
        f = f + 0.01 * rng.standard_normal(f.shape)
        frames.append(f.reshape(H * W, D).astype(np.float32))
    return np.stack(frames)


with tempfile.TemporaryDirectory() as tmp:
    video = make_video()
    T, N, D = video.shape
    fdir = os.path.join(tmp, "frames")
    os.mkdir(fdir)
    for t in range(T):
        np.save(os.path.join(fdir, f"{t:04d}.npy"), video[t])
    pts = (np.arange(T, dtype=np.int64) * 333_000_000)
    st_in = os.path.join(tmp, "video.safetensors")
    write_safetensors(st_in, {"frames": ("F32", video), "pts": ("I64", pts)})
    q = np.load(os.path.join(fdir, "0000.npy"))[0:1] * 0 + video[0].reshape(8, 8, D)[1, 1]
    np.save(os.path.join(tmp, "q.npy"), q.astype(np.float32))

    # 1. window policy to a token stream (f32), and to safetensors: the same packets.
    common = ["--budget", "10", "--window", "6", "--hop", "3", "--name", "cam"]
    wire = os.path.join(tmp, "w.sptok")
    p = run("stream", "--frames", fdir, "--out", wire, "--dtype", "f32", *common)
    summary = json.loads(p.stdout)
    hdr, pk = read_wire(wire)
    check(hdr["d"] == D and hdr["grid"] == (8, 8) and hdr["window"] == 6 and hdr["hop"] == 3
          and hdr["budget"] == 10 and hdr["name"] == "cam" and hdr["kind"] == 1, f"header {hdr}")
    check(len(pk) == summary["packets"] == 7, f"packets {len(pk)} vs {summary}")
    check(hdr["mode"] == 0 and summary["packet_mode"] == "snapshot", "snapshot is the default")
    check(sum(x["count"] for x in pk) == summary["tokens_out"], "token count")
    for i, x in enumerate(pk):
        check(x["window"] == i and x["budget"] == 10 and x["count"] <= 10, f"packet {i}")
        check(x["frame_last"] == min(3 * i + 2, T - 1), f"packet {i} frame_last {x['frame_last']}")
        keys = [(int(a["frame"]), int(a["y"]) * 8 + int(a["x"])) for a in x["info"]]
        check(keys == sorted(set(keys)), f"packet {i} order")
        # snapshot: every token was seen in the packet's window
        check(all(int(a["last_pts"]) >= x["pts_first"] and a["seen"] >= 1
                  and a["last_pts"] >= a["pts"] for a in x["info"]), f"packet {i} spans")
        for a, tok in zip(x["info"], x["tokens"]):
            # every token is the frame's row at its position, unchanged in f32
            check(np.array_equal(tok, video[a["frame"], a["y"] * 8 + a["x"]]), "token values")
    lines = [json.loads(l) for l in run("inspect", wire).stdout.splitlines()]
    check(len(lines) == len(pk) + 1, "inspect line count")
    for l, x in zip(lines, pk):
        check(l["window"] == x["window"] and l["tokens"] == x["count"] and l["d"] == D
              and l["budget"] == 10 and l["pts_first"] == x["pts_first"]
              and l["pts_last"] == x["pts_last"], f"inspect line {l}")
    check(lines[-1]["packets"] == len(pk) and lines[-1]["tokens"] == summary["tokens_out"]
          and lines[-1]["frames"] == T and lines[-1]["version"] == 2, f"inspect summary {lines[-1]}")
    check(all(l["mode"] == "snapshot" and l["current"] == l["tokens"] for l in lines[:-1]),
          "inspect: mode and current")
    plines = [json.loads(l) for l in run("inspect", "--positions", wire).stdout.splitlines()]
    for l, x in zip(plines, pk):
        want = [[int(a["pts"]), int(a["last_pts"]), int(a["seen"]), int(a["frame"]), int(a["y"]),
                 int(a["x"])] for a in x["info"]]
        check(l["positions"] == want, f"inspect --positions of window {x['window']}")
    check(any(p[1] > p[0] and p[2] > 1 for l in plines[:-1] for p in l["positions"]),
          "some token was seen again (last_pts > pts, seen > 1)")

    sfile = os.path.join(tmp, "w.safetensors")
    run("stream", "--frames", fdir, "--out", sfile, "--dtype", "f32", *common)
    t, meta = read_safetensors(sfile)
    n = sum(x["count"] for x in pk)
    check(t["tokens"].shape == (n, D) and t["tokens.dtype"] == "F32", "safetensors tokens")
    check(t["pts"].shape == (n,) and t["pts.dtype"] == "I64", "safetensors pts")
    check(t["frame"].shape == (n,) and t["frame.dtype"] == "I32", "safetensors frame")
    check(t["yx"].shape == (n, 2) and t["yx.dtype"] == "I16", "safetensors yx")
    check(t["packets"].shape == (len(pk), 7), "safetensors packets")
    check(np.array_equal(t["tokens"], np.concatenate([x["tokens"] for x in pk])),
          "safetensors tokens equal the stream's")
    check(np.array_equal(t["pts"], np.concatenate([x["info"]["pts"] for x in pk])), "pts")
    check(t["last_pts.dtype"] == "I64" and np.array_equal(
        t["last_pts"], np.concatenate([x["info"]["last_pts"] for x in pk])), "safetensors last_pts")
    check(t["seen.dtype"] == "I32" and np.array_equal(
        t["seen"], np.concatenate([x["info"]["seen"] for x in pk])), "safetensors seen")
    check(meta.get("stream") == "cam" and meta.get("budget") == "10"
          and meta.get("window") == f"0-{len(pk) - 1}" and meta.get("kind") == "window"
          and meta.get("method") == "script-stream-window"
          and meta.get("query_hash") == "0" * 16 and meta.get("mode") == "snapshot",
          f"metadata {meta}")
    slines = [json.loads(l) for l in run("inspect", "--positions", sfile).stdout.splitlines()]
    check([l["positions"] for l in slines[:-1]] == [l["positions"] for l in plines[:-1]],
          "inspect --positions reads the same spans from safetensors")
    check([l["tokens"] for l in slines[:-1]] == [x["count"] for x in pk], "inspect safetensors")
    check(slines[-1]["tokens"] == n and slines[-1]["frames"] == T, "inspect safetensors summary")

    # 1b. delta mode: no token is sent twice, and the header says so.
    wired = os.path.join(tmp, "d.sptok")
    p = run("stream", "--frames", fdir, "--out", wired, "--dtype", "f32", "--packet-mode", "delta",
            *common)
    hdr_d, pk_d = read_wire(wired)
    check(hdr_d["mode"] == 1 and json.loads(p.stdout)["packet_mode"] == "delta", "delta header")
    sent = [(int(a["frame"]), int(a["y"]), int(a["x"])) for x in pk_d for a in x["info"]]
    check(len(sent) == len(set(sent)) and len(sent) > 0, f"delta: a token sent twice ({sent})")
    check(all(l["mode"] == "delta" for l in
              [json.loads(l) for l in run("inspect", wired).stdout.splitlines()][:-1]),
          "inspect shows delta")

    # 2. frame policy from a safetensors [T, N, D] input with pts, a query from frame 5, f16.
    wire2 = os.path.join(tmp, "f.sptok")
    p = run("stream", "--frames", st_in, "--out", wire2, "--policy", "frame", "--budget", "6",
            "--query", os.path.join(tmp, "q.npy"), "--query-at", "5")
    hdr2, pk2 = read_wire(wire2)
    check(hdr2["dtype"] == 2 and hdr2["kind"] == 0 and len(pk2) == T, "frame policy packets")
    for i, x in enumerate(pk2):
        check(x["window"] == i and x["frame_first"] == x["frame_last"] == i
              and x["pts_first"] == pts[i], f"frame packet {i}")
        check((x["query_hash"] != 0) == (i >= 5), f"query hash of packet {i}")
    check(pk2[0]["count"] == 6, "first frame fills the budget")

    # 3. Bad input: exit 2 with one clear line, no output file left behind.
    data = open(wire, "rb").read()
    cut = os.path.join(tmp, "cut.sptok")
    open(cut, "wb").write(data[:len(data) - 7])
    e = run("inspect", cut, expect=2)
    check("truncated" in e.stderr, f"truncated message: {e.stderr}")
    bad = bytearray(data)
    bad[200] ^= 0x10
    open(cut, "wb").write(bytes(bad))
    e = run("inspect", cut, expect=2)
    check("checksum" in e.stderr, f"checksum message: {e.stderr}")
    back = os.path.join(tmp, "back.safetensors")
    pts_bad = pts.copy()
    pts_bad[7] = pts_bad[6] - 1
    write_safetensors(back, {"frames": ("F32", video), "pts": ("I64", pts_bad)})
    out = os.path.join(tmp, "never.sptok")
    e = run("stream", "--frames", back, "--out", out, expect=2)
    check("backwards" in e.stderr and "frame 7" in e.stderr, f"pts message: {e.stderr}")
    check(not os.path.exists(out), "no partial output")
    check(not [f for f in os.listdir(tmp) if ".tmp." in f], "no temporary file left")
    nan = video.copy()
    nan[3, 10, 2] = np.nan
    write_safetensors(back, {"frames": ("F32", nan)})
    e = run("stream", "--frames", back, "--out", out, expect=2)
    check("NaN" in e.stderr and "frame 3" in e.stderr, f"NaN message: {e.stderr}")
    # Refused command lines: exit 2, one line on stderr that names the problem, no output file.
    missing = os.path.join(tmp, "missing")
    refusals = [
        (["stream", "--frames", fdir], "stream: --out is required"),
        (["stream", "--out", out], "stream: --frames is required"),
        (["stream", "--frames", fdir, "--out", out, "--hop", "20"], "hop 20 is outside"),
        (["stream", "--frames", fdir, "--out", out, "--window", "0"],
         "--window: 0 is outside [1, 65536]"),
        (["stream", "--frames", fdir, "--out", out, "--dtype", "f8"],
         "--dtype: expected f16 or f32, got 'f8'"),
        (["stream", "--frames", fdir, "--out", out, "--bogus"],
         "unknown or incomplete option '--bogus'"),
        (["stream", "--frames", fdir, "--out", out, "--hop"],
         "unknown or incomplete option '--hop'"),
        (["stream", "--frames", fdir, "--out", out, "extra"], "unexpected argument 'extra'"),
        (["select", "--budget", "4"], "select: --tokens is required"),
        (["select", "--tokens", os.path.join(fdir, "0000.npy"), "--budget", "0"],
         "--budget: 0 is outside [1, 4294967295] (see scriptprune select --help)"),
        (["inspect", missing], f"inspect: {missing}: "),
        (["stream", "--frames", fdir, "--out", out, "--packet-mode", "latest"],
         "--packet-mode: 'latest' is not one of snapshot, delta"),
        (["inspect", os.path.join(fdir, "0000.npy")], "exceeds the 100 MiB limit"),
    ]
    for args, fragment in refusals:
        e = run(*args, expect=2)
        check(e.stderr.startswith("scriptprune: error: ") and e.stderr.count("\n") == 1
              and fragment in e.stderr, f"{args}: stderr {e.stderr!r} lacks {fragment!r}")
    check(not os.path.exists(out), "no output after a refused command line")

print("cli stream/inspect:", "FAILED" if failures else "ok", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
