#!/usr/bin/python3
"""Integration: what a real scriptd emits for a 640x360 clip (letterboxed into the encoder's square
input): a grey picture with a white square crossing it, sampled at 2 fps, window 8, hop 8,
budget 64.

- no letterbox padding token is ever emitted (it used to be one in every window);
- the `snapshot` stream's packets hold only tokens seen in their window, with last_pts and seen in
  the safetensors files and in /tokens; the `delta` stream never sends a token twice;
- the overlay PNG of each window outlines every token of its packet on the completing frame, in
  the overlay's age colours (emitted-color for the completing frame's tokens shading to
  aged-color a window back), computed here from the PNG's own picture.
"""
import os
import struct
import subprocess
import sys
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

W, H_PX = 640, 360
S, P, GRID = 336, 14, 24
PIC_Y0, PIC_ROWS = 5, 14  # picture rows of the grid for 640x360 (round(24 * 360 / 640) = 14)
SPAN = 8                  # the window: age colours shade over it
EMITTED = 0xff00e000      # scriptoverlay's defaults
AGED = 0xd0ff3030
LINE = 2

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: info
streams:
  - id: snap
    file: "{clip}"
    fps: 2
    pruning:
      window: 8
      hop: 8
      window_budget: 64
    sinks:
      - safetensors_dir: "{dir}/snap"
      - overlay_dir: "{dir}/overlay"
  - id: delta
    file: "{clip}"
    fps: 2
    pruning:
      window: 8
      hop: 8
      window_budget: 64
      packet_mode: delta
    sinks:
      - safetensors_dir: "{dir}/delta"
"""


def make_clip(path):
    """10 s at 10 fps: grey, a white 80 px square moving right 90 px a second."""
    graph = ("color=c=0x808080:s=640x360:r=10:d=10[bg];color=c=white:s=80x80:r=10:d=10[fg];"
             "[bg][fg]overlay=x='mod(t*90,560)':y=140:shortest=1,format=yuv420p")
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-filter_complex", graph, "-c:v", "mpeg4", "-q:v", "1", path], check=True)


def read_png(data):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    off, idat, w = 8, b"", 0
    while off < len(data):
        (n,) = struct.unpack_from(">I", data, off)
        kind = data[off + 4:off + 8]
        body = data[off + 8:off + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack_from(">IIBB", body, 0)
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        off += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, pos = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xff
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def cell_rect(y, x):
    """The frame pixels of grid cell (y, x): scriptoverlay's mapping through the letterbox."""
    def axis(cell, dst0, dstw, size):
        u0 = max(cell * P, dst0)
        u1 = min(cell * P + P, dst0 + dstw)
        f0 = (u0 - dst0) * size / dstw
        f1 = (u1 - dst0) * size / dstw
        return int(f0 + 0.5), int(f1 + 0.5)
    x0, x1 = axis(x, 0, S, W)
    y0, y1 = axis(y, PIC_Y0 * P, PIC_ROWS * P, H_PX)
    return x0, y0, x1, y1


def c_div(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def age_color(age):
    """scriptoverlay's outline colour for a packet token `age` frames old (0xAARRGGBB)."""
    if age == 0:
        return EMITTED
    t = 256 if age >= SPAN else age * 256 // SPAN
    out = 0
    for shift in (0, 8, 16, 24):
        a, b = (EMITTED >> shift) & 0xff, (AGED >> shift) & 0xff
        out |= max(0, min(255, a + c_div((b - a) * t, 256))) << shift
    return out


def blend(v, t, a):
    d = (t - v) * a
    return v + ((d + 127) // 255 if d >= 0 else -((-d + 127) // 255))


def expected_pixel(content, argb):
    a = argb >> 24
    return tuple(blend(content[i], (argb >> s) & 0xff, a) for i, s in enumerate((16, 8, 0)))


def tokens_of(tensors):
    _, _, pts = tensors["pts"]
    _, _, last = tensors["last_pts"]
    _, _, seen = tensors["seen"]
    _, _, frame = tensors["frame"]
    _, _, yx = tensors["yx"]
    return [dict(pts=pts[i], last_pts=last[i], seen=seen[i], frame=frame[i], y=yx[2 * i],
                 x=yx[2 * i + 1]) for i in range(len(pts))]


def read_dir(path):
    out = []
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as f:
            meta, t = H.read_safetensors(f.read())
        out.append((name, meta, t))
    return out


class Packets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon("")
        clip = os.path.join(cls.d.dir, "wide.mp4")
        make_clip(clip)
        with open(cls.d.config, "w") as f:
            f.write(CONFIG.format(clip=clip, dir=cls.d.dir))
        cls.d.start()
        for s in ("snap", "delta"):
            cls.d.wait_stream(s, lambda st: st["state"] == "done", "state done")

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.d.stop()
        if rc != 0:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"

    def test_stream_listing_shows_the_packet_mode(self):
        self.assertEqual(self.d.stream("snap")["pruning"]["packet_mode"], "snapshot")
        self.assertEqual(self.d.stream("delta")["pruning"]["packet_mode"], "delta")

    def test_no_padding_token_is_emitted(self):
        for s in ("snap", "delta"):
            files = read_dir(os.path.join(self.d.dir, s))
            self.assertGreaterEqual(len(files), 2, files)
            emitted, padding = 0, 0
            for _, _, t in files:
                for tok in tokens_of(t):
                    emitted += 1
                    padding += not PIC_Y0 <= tok["y"] < PIC_Y0 + PIC_ROWS
            self.assertGreater(emitted, 0)
            self.assertEqual(padding, 0, f"{s}: {padding} of {emitted} tokens are padding")

    def test_snapshot_tokens_were_seen_in_their_window(self):
        old = 0
        for name, meta, t in read_dir(os.path.join(self.d.dir, "snap")):
            self.assertEqual(meta.get("mode"), "snapshot", name)
            _, _, pk = t["packets"]
            pts_first, pts_last, frame_first = pk[1], pk[2], pk[3]
            self.assertEqual(t["last_pts"][0], "I64")
            self.assertEqual(t["seen"][0], "I32")
            for tok in tokens_of(t):
                self.assertTrue(pts_first <= tok["last_pts"] <= pts_last, (name, tok, pk))
                self.assertTrue(tok["pts"] <= tok["last_pts"] and tok["seen"] >= 1, (name, tok))
                old += tok["frame"] < frame_first
        self.assertGreater(old, 0, "no still-seen token of an earlier window was re-sent")

    def test_delta_never_sends_a_token_twice(self):
        sent = []
        for name, meta, t in read_dir(os.path.join(self.d.dir, "delta")):
            self.assertEqual(meta.get("mode"), "delta", name)
            sent += [(k["frame"], k["y"], k["x"]) for k in tokens_of(t)]
        self.assertGreater(len(sent), 0)
        self.assertEqual(len(sent), len(set(sent)), "a token was sent twice")

    def test_tokens_route_carries_time_spans(self):
        status, _, data = self.d.request("GET", "/v1/streams/snap/tokens?budget=40")
        self.assertEqual(status, 200, data[:300])
        meta, t = H.read_safetensors(data)
        toks = tokens_of(t)
        self.assertEqual(len(toks), 40)
        self.assertTrue(all(k["seen"] >= 1 and k["last_pts"] >= k["pts"] for k in toks))
        self.assertTrue(any(k["seen"] > 1 and k["last_pts"] > k["pts"] for k in toks),
                        "no token was seen again")

    def test_overlay_shows_every_packet_token_by_age(self):
        pngs = {}
        for name in os.listdir(os.path.join(self.d.dir, "overlay")):
            ms = int(name.rsplit("-", 1)[1][:-len("ms.png")])
            pngs[ms] = os.path.join(self.d.dir, "overlay", name)
        checked = 0
        for name, _, t in read_dir(os.path.join(self.d.dir, "snap")):
            _, _, pk = t["packets"]
            png = pngs.get(pk[2] // 1_000_000)
            if png is None:
                continue  # the last, partial window ends with the input, not on a frame
            with open(png, "rb") as f:
                w, h, rows = read_png(f.read())
            self.assertEqual((w, h), (W, H_PX))
            youngest = {}
            for k in tokens_of(t):
                age = pk[4] - k["frame"]
                youngest[(k["y"], k["x"])] = min(age, youngest.get((k["y"], k["x"]), age))
            for (y, x), age in youngest.items():
                x0, y0, x1, y1 = cell_rect(y, x)
                inside = rows[(y0 + y1) // 2][(x0 + x1) // 2]
                corner = rows[y1 - 1 - LINE][x1 - 1 - LINE]
                near = rows[y0 + LINE][x0 + LINE]  # next to the outline pixel checked below
                # only cells of one flat colour (grey or white), so the content is known; an
                # edge of the square can cross a cell's top-left corner and miss its centre
                if max(abs(a - b) for c in (corner, near) for a, b in zip(inside, c)) > 6:
                    continue
                if max(inside) - min(inside) > 6:
                    continue
                want = expected_pixel(inside, age_color(age))
                got = rows[y0][x0]
                self.assertLessEqual(max(abs(a - b) for a, b in zip(got, want)), 8,
                                     f"{name}: cell ({y}, {x}), {age} frames old: outline {got}, "
                                     f"expected {want} over {inside}")
                checked += 1
        self.assertGreater(checked, 20)


if __name__ == "__main__":
    unittest.main(verbosity=2)
