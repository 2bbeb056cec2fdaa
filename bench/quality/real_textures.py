#!/usr/bin/python3
"""Real-texture benchmark: does the stream keep what is new and drop what was seen, on videos
made from real photographs (Debian's python3-skimage ships them in skimage/data)?

Every video is generated with exact ground truth. A frame is a view of one or more *layers*
(a photograph, or an object cut from one with a known mask); each frame pixel knows which layer
pixel it shows and at what scale (layer pixels per frame pixel). Scenes: camera pans over a
panorama of photographs and over one of textures (grass, gravel, brick, ...), a zoom out and a
zoom in, real objects cut from photographs moving over a textured photograph, a still scene with
sensor noise, and a cut. Frames are 384 x 384 at 2 frames/s, so the patch encoder's 24 x 24
cells are exactly 16 x 16 frame pixels each. Every frame gets Gaussian sensor noise (sigma 2 grey
levels; 3 in the still scene).

  pan_photos     pan over a panorama of astronaut, coffee, chelsea, rocket, motorcycle_left,
                 12 px (3/4 cell) a frame
  pan_textures   the same over grass, gravel, brick and moon, tinted (grass green, ...)
  pan_fast       pan_photos at 32 px (2 cells) and 2 px down a frame: faster than the stream's
                 neighbourhood radius (1 cell), so seen content can not be matched there
  zoom_out       hubble_deep_field from 1 to 2 photo px per frame px (new content enters at the
                 borders)
  zoom_in        retina from 3 to 1.5 (nothing new by area; detail grows by < 1.5 x)
  zoom_out_fast  a 2 x 2 mosaic of photographs (astronaut, coffee, chelsea, rocket) zoomed out
                 8% a frame for 17 frames, then held (zoom_out enters 0.27 cell a frame at the
                 border, never the 75% of a cell that makes a NEW cell)
  objects_grass  four objects cut from photos (the coffee cup, the cat's head, the astronaut's
                 face, the rocket) moving at 6 to 19 px a frame over tinted grass
  objects_gravel the same over tinted gravel
  still_noise    a still photograph (astronaut) with sensor noise
  cut            a pan over textures, then a cut to coffee (still)

The real pipeline runs on them: `real-stream` (bench/quality/real_stream.c) encodes each frame
with the built-in patch encoder and pushes it through sp_stream at the core defaults, printing
each token's fate (new candidate, temporal repeat, GSP drop) and the packets.

Ground truth per cell of frame t (t >= 1), over the earlier frames of the window (the last
`window - 1` frames; the stream's default window is 16):
  a layer pixel is *seen* when an earlier frame showed it (not hidden by an object) at a scale at
  most 1.25 x the current one (zooming in by more than that reveals detail: not seen), and
  *unseen* when no earlier frame showed it at a scale within 1.5 x;
  NEW cell: at least 75% of its pixels unseen (a cell whose content moved by less than half a
  cell is matched by the stream through a neighbouring position; cells between 2% and 75%
  unseen are left out);
  STATIC cell: at least 98% of its pixels seen, and not an object edge (cells 5-95% covered by
  one object are a new juxtaposition of seen parts and are left out).
Metrics (pooled over the frames t >= 1 of a scene):
  new_recall       NEW cells the temporal graph calls new (fate candidate or GSP drop)
  new_kept         NEW cells that became candidates (GSP kept them too)
  static_precision STATIC cells dropped as temporal repeats
  query_recall     with the target object's exemplar (its bounding box cut from its photograph)
                   as the query: share of the target's cells (>= 50% covered) in each window's
                   frames represented in that window's packet by a kept token of the target whose
                   cell overlaps at least a quarter of the same part of the object (so one token
                   per part suffices whatever the alignment); at a budget where
                   the same run without a query gets <= 0.5
Prints one JSON line per scene and run (and per frame with --per-frame).

Usage: real_textures.py --bin build/bench/real-stream [--tau-t T] [--kernel-sigma S] ...
       [--scenes a,b] [--sweep-tau 0.9,0.94,...] [--out results.jsonl]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

import skimage.data as skd
import skimage.io


def photo(name):
    """A photograph shipped in skimage/data (python3-skimage), by file stem."""
    for ext in (".png", ".jpg"):
        path = os.path.join(skd.data_dir, name + ext)
        if os.path.exists(path):
            return skimage.io.imread(path)
    raise SystemExit(f"{name}: not in {skd.data_dir} (install python3-skimage)")

FRAME = 384
CELL = 16  # frame pixels per encoder cell (384 -> 336 input, 14 px patches)
GRID = FRAME // CELL
FPS = 2.0
SEEN_SCALE = 1.25
NEW_SHARE = 0.75  # a NEW cell is at least this share unseen; cells between are left out
UNSEEN_SCALE = 1.5


def rgb(a):
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return np.ascontiguousarray(a[..., :3]).astype(np.uint8)


def fit_height(a, h):
    im = Image.fromarray(a)
    w = int(round(a.shape[1] * h / a.shape[0]))
    return np.asarray(im.resize((w, h), Image.BICUBIC))


def tint(gray, lo, hi):
    """A grey photograph coloured between two RGB colours (grass green, gravel brown...)."""
    g = rgb(gray).astype(np.float32)[..., :1] / 255.0
    lo, hi = np.array(lo, np.float32), np.array(hi, np.float32)
    return np.clip(lo + g * (hi - lo), 0, 255).astype(np.uint8)


def panorama(names, h=512):
    parts = []
    for n in names:
        if isinstance(n, tuple):
            img = tint(photo(n[0]), n[1], n[2])
        else:
            img = rgb(photo(n))
        parts.append(fit_height(img, h))
    return np.ascontiguousarray(np.concatenate(parts, 1))


GRASS = ("grass", (20, 60, 10), (150, 210, 90))
GRAVEL = ("gravel", (60, 50, 40), (210, 195, 170))
BRICK = ("brick", (70, 30, 20), (220, 140, 110))
MOON = ("moon", (10, 10, 20), (230, 230, 240))


class Layer:
    def __init__(self, pix, mask=None):
        self.pix = pix  # h x w x 3 uint8
        self.mask = mask  # h x w bool (objects) or None (a whole photograph)


def view(layer, oy, ox, s):
    """Frame pixels showing layer pixels (oy + fy s, ox + fx s): antialiased resampling."""
    im = Image.fromarray(layer.pix)
    box = (ox, oy, ox + FRAME * s, oy + FRAME * s)
    if s == 1 and float(ox).is_integer() and float(oy).is_integer():
        return layer.pix[int(oy):int(oy) + FRAME, int(ox):int(ox) + FRAME].astype(np.float32)
    return np.asarray(im.resize((FRAME, FRAME), Image.BILINEAR, box=box)).astype(np.float32)


class Frame:
    """A rendered frame and, per frame pixel, which layer it shows and where (scale s)."""

    def __init__(self):
        self.img = None
        self.layer = np.zeros((FRAME, FRAME), np.int16)
        self.ly = np.zeros((FRAME, FRAME), np.float32)
        self.lx = np.zeros((FRAME, FRAME), np.float32)
        self.scale = 1.0


def render(bg_id, bg, oy, ox, s, objects, rng, noise):
    """objects: list of (layer id, Layer, top, left) pasted at scale 1 over the background."""
    f = Frame()
    img = view(bg, oy, ox, s)
    fy, fx = np.mgrid[0:FRAME, 0:FRAME].astype(np.float32)
    f.layer[:] = bg_id
    f.ly[:] = oy + (fy + 0.5) * s
    f.lx[:] = ox + (fx + 0.5) * s
    f.scale = s
    for oid, ob, top, left in objects:
        h, w = ob.mask.shape
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(FRAME, top + h), min(FRAME, left + w)
        if y0 >= y1 or x0 >= x1:
            continue
        m = ob.mask[y0 - top:y1 - top, x0 - left:x1 - left]
        img[y0:y1, x0:x1][m] = ob.pix[y0 - top:y1 - top, x0 - left:x1 - left][m]
        f.layer[y0:y1, x0:x1][m] = oid
        f.ly[y0:y1, x0:x1][m] = (fy[y0:y1, x0:x1] - top + 0.5)[m]
        f.lx[y0:y1, x0:x1][m] = (fx[y0:y1, x0:x1] - left + 0.5)[m]
    if noise:
        img = img + rng.normal(0.0, noise, img.shape)
    f.img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return f


def cut_object(photo, cy, cx, ry, rx, shape="ellipse"):
    """An object cut from a photograph: the pixels inside an ellipse (or rectangle) centred at
    (cy, cx) with radii (ry, rx); the mask is exact by construction."""
    y0, y1, x0, x1 = cy - ry, cy + ry, cx - rx, cx + rx
    pix = np.ascontiguousarray(photo[y0:y1, x0:x1])
    if shape == "rect":
        mask = np.ones(pix.shape[:2], bool)
    else:
        yy, xx = np.mgrid[0:2 * ry, 0:2 * rx]
        mask = ((yy + 0.5 - ry) / ry) ** 2 + ((xx + 0.5 - rx) / rx) ** 2 <= 1.0
    return Layer(pix, mask), pix  # pix: the exemplar (the bounding box, background included)


def objects_library():
    coffee = rgb(photo("coffee"))
    chelsea = rgb(photo("chelsea"))
    astro = rgb(photo("astronaut"))
    rocket = rgb(photo("rocket"))
    return {
        "cup": cut_object(coffee, 215, 310, 56, 70),  # the cup and saucer
        "cat": cut_object(chelsea, 130, 175, 56, 64),  # the cat's head
        "face": cut_object(astro, 110, 230, 56, 44),  # the astronaut's face and helmet
        "rocket": cut_object(rocket, 230, 330, 64, 24, "rect"),  # the rocket on its pad
    }


def bounce(p0, v, lo, hi, t):
    """Position at frame t of a point moving at v px/frame, bouncing within [lo, hi]."""
    span = hi - lo
    x = (p0 - lo + v * t) % (2 * span)
    return lo + (x if x <= span else 2 * span - x)


def scene_frames(name, T, seed):
    """Frames and layers of one scene."""
    rng = np.random.default_rng(seed)
    frames, layers = [], {}
    if name in ("pan_photos", "pan_textures", "pan_fast"):
        pano = panorama(["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left"]
                        if name != "pan_textures" else [GRASS, GRAVEL, BRICK, MOON, GRASS])
        layers[0] = Layer(pano)
        v = 32 if name == "pan_fast" else 12
        vy = 2 if name == "pan_fast" else 0
        for t in range(T):
            frames.append(render(0, layers[0], 40 + vy * t, 8 + v * t, 1.0, [], rng, 2.0))
    elif name == "zoom_out_fast":
        # a mosaic of photographs, zoomed out 8% a frame for 17 frames (1 to 3.7 photo px per
        # frame px: new content enters in a strip of 0.9 cell at every border), then held
        top = np.concatenate([fit_height(rgb(photo(n)), 768) for n in ("astronaut", "coffee")], 1)
        bot = np.concatenate([fit_height(rgb(photo(n)), 768) for n in ("chelsea", "rocket")], 1)
        w = min(top.shape[1], bot.shape[1])
        img = np.ascontiguousarray(np.concatenate([top[:, :w], bot[:, :w]], 0))
        layers[0] = Layer(img)
        h, w = img.shape[:2]
        for t in range(T):
            s = 1.08 ** min(t, 17)
            size = FRAME * s
            frames.append(render(0, layers[0], (h - size) / 2, (w - size) / 2, s, [], rng, 2.0))
    elif name in ("zoom_out", "zoom_in"):
        img = rgb(photo("hubble_deep_field")) if name == "zoom_out" else rgb(photo("retina"))
        layers[0] = Layer(img)
        h, w = img.shape[:2]
        s0, s1 = (1.0, 2.0) if name == "zoom_out" else (3.0, 1.5)
        for t in range(T):
            s = s0 * (s1 / s0) ** (t / (T - 1))
            size = FRAME * s
            frames.append(render(0, layers[0], (h - size) / 2, (w - size) / 2, s, [], rng, 2.0))
    elif name in ("objects_grass", "objects_gravel"):
        bg = tint(photo("grass") if name == "objects_grass" else photo("gravel"), *(
            GRASS[1:] if name == "objects_grass" else GRAVEL[1:]))
        layers[0] = Layer(np.ascontiguousarray(bg))
        lib = objects_library()
        specs = [("cup", 8, 6, 40, 30), ("cat", -12, 8, 200, 220), ("face", 16, -10, 60, 250),
                 ("rocket", -6, 0, 150, 40)]
        for i, (k, _, _, _, _) in enumerate(specs):
            layers[i + 1] = lib[k][0]
        for t in range(T):
            objs = []
            for i, (k, vx, vy, x0, y0) in enumerate(specs):
                ob = layers[i + 1]
                h, w = ob.mask.shape
                objs.append((i + 1, ob, int(bounce(y0, vy, 0, FRAME - h, t)),
                             int(bounce(x0, vx, 0, FRAME - w, t))))
            frames.append(render(0, layers[0], 64, 64, 1.0, objs, rng, 2.0))
    elif name == "still_noise":
        layers[0] = Layer(rgb(photo("astronaut")))
        for t in range(T):
            frames.append(render(0, layers[0], 64, 64, 1.0, [], rng, 3.0))
    elif name == "cut":
        layers[0] = Layer(panorama([GRASS, GRAVEL, BRICK]))
        layers[1] = Layer(rgb(photo("coffee")))
        for t in range(T):
            if t < T // 2:
                frames.append(render(0, layers[0], 40, 8 + 12 * t, 1.0, [], rng, 2.0))
            else:
                frames.append(render(1, layers[1], 8, 100, 1.0, [], rng, 2.0))
    else:
        raise SystemExit(f"unknown scene {name}")
    return frames, layers


# New scenes go last: a scene's noise seed is its index in this list.
SCENES = ["pan_photos", "pan_textures", "pan_fast", "zoom_out", "zoom_in", "objects_grass",
          "objects_gravel", "still_noise", "cut", "zoom_out_fast"]
QUERY_SCENES = ["objects_grass", "objects_gravel"]
QUERY_TARGET = 1  # the cup
QUERY_OVERLAP = 0.25  # a kept token covers a part of the object when it shows a quarter of it


def seen_scales(frames, layers, t, window):
    """Per layer, the finest scale at which each layer pixel was shown by frames
    [t - window + 1, t - 1] (inf: not shown)."""
    best = {k: np.full(l.pix.shape[:2], np.inf, np.float32) for k, l in layers.items()}
    for u in range(max(0, t - window + 1), t):
        f = frames[u]
        for k in np.unique(f.layer):
            sel = f.layer == k
            ly = np.clip(f.ly[sel].astype(np.int64), 0, best[k].shape[0] - 1)
            lx = np.clip(f.lx[sel].astype(np.int64), 0, best[k].shape[1] - 1)
            # a frame pixel at scale s covers the s x s block of layer pixels
            # [ly - s/2, ly + s/2) x [lx - s/2, lx + s/2): mark every layer pixel it overlaps
            # (every pixel of a frame has the same scale, so repeated indices write one value)
            s = f.scale
            y0 = np.floor(f.ly[sel] - s / 2).astype(np.int64)
            x0 = np.floor(f.lx[sel] - s / 2).astype(np.int64)
            y1 = np.ceil(f.ly[sel] + s / 2).astype(np.int64)  # exclusive
            x1 = np.ceil(f.lx[sel] + s / 2).astype(np.int64)
            span = int(np.ceil(s)) + 1
            for dy in range(span):
                for dx in range(span):
                    ok = (y0 + dy < y1) & (x0 + dx < x1)
                    yy = np.clip(y0[ok] + dy, 0, best[k].shape[0] - 1)
                    xx = np.clip(x0[ok] + dx, 0, best[k].shape[1] - 1)
                    best[k][yy, xx] = np.minimum(best[k][yy, xx], s)
    return best


def cell_labels(frames, layers, t, window):
    """NEW (1), STATIC (0) or left out (-1) per cell of frame t."""
    f = frames[t]
    best = seen_scales(frames, layers, t, window)
    seen = np.zeros((FRAME, FRAME), bool)
    unseen = np.zeros((FRAME, FRAME), bool)
    for k in np.unique(f.layer):
        sel = f.layer == k
        ly = np.clip(f.ly[sel].astype(np.int64), 0, best[k].shape[0] - 1)
        lx = np.clip(f.lx[sel].astype(np.int64), 0, best[k].shape[1] - 1)
        b = best[k][ly, lx]
        seen[sel] = b <= SEEN_SCALE * f.scale
        unseen[sel] = b > UNSEEN_SCALE * f.scale
    def per_cell(a):
        return a.reshape(GRID, CELL, GRID, CELL).mean(axis=(1, 3)).reshape(-1)
    seen_c, unseen_c = per_cell(seen), per_cell(unseen)
    edge = np.zeros(GRID * GRID, bool)
    for k in np.unique(f.layer):
        if layers[k].mask is None:
            continue
        cov = per_cell(f.layer == k)
        edge |= (cov > 0.05) & (cov < 0.95)
    lab = np.full(GRID * GRID, -1, np.int8)
    lab[seen_c >= 0.98] = 0
    lab[edge] = -1
    lab[unseen_c >= NEW_SHARE] = 1
    return lab


def object_cells(f, oid):
    """Per cell: coverage by object oid, and the object-local top-left of the cell."""
    cov = (f.layer == oid).reshape(GRID, CELL, GRID, CELL).mean(axis=(1, 3)).reshape(-1)
    # objects only translate: object-local = frame + (ly - fy - 0.5), the same in the whole cell
    fy, fx = np.mgrid[0:FRAME, 0:FRAME].astype(np.float32)
    on = f.layer == oid
    dy = np.where(on, f.ly - fy - 0.5, np.nan).reshape(GRID, CELL, GRID, CELL)
    dx = np.where(on, f.lx - fx - 0.5, np.nan).reshape(GRID, CELL, GRID, CELL)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            oy = np.nanmax(dy, axis=(1, 3)).reshape(-1)
            ox = np.nanmax(dx, axis=(1, 3)).reshape(-1)
    gy, gx = np.divmod(np.arange(GRID * GRID), GRID)
    # the cell's object-local top-left corner
    return cov, oy + gy * CELL, ox + gx * CELL


def run_stream(binary, frames, args, extra=(), query=None):
    with tempfile.TemporaryDirectory() as d:
        vid = os.path.join(d, "video.rgb")
        with open(vid, "wb") as fh:
            for f in frames:
                fh.write(f.img.tobytes())
        cmd = [binary, "--video", vid, "--size", f"{FRAME}x{FRAME}", "--frames", str(len(frames)),
               "--fps", str(FPS)]
        for opt in ("tau_t", "kernel_sigma", "query_kernel_sigma", "mass_gamma", "gsp_keep",
                    "window", "hop", "cut_fraction"):
            v = getattr(args, opt, None)
            if v is not None:
                cmd += ["--" + opt.replace("_", "-"), str(v)]
        cmd += list(extra)
        if getattr(args, "no_pixels", False):
            cmd += ["--no-pixels"]
        if query is not None and getattr(args, "query_scale", None):
            cmd += ["--query-scale", args.query_scale]
        if query is not None:
            q = os.path.join(d, "query.rgb")
            with open(q, "wb") as fh:
                fh.write(np.ascontiguousarray(query).tobytes())
            cmd += ["--query", q, "--query-size", f"{query.shape[1]}x{query.shape[0]}"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    fates, packets, summary, encoded = {}, [], None, []
    for line in out.splitlines():
        j = json.loads(line)
        if "frame_evidence" in j:
            continue
        if "fates" in j:
            fates[j["frame"]] = np.frombuffer(j["fates"].encode(), np.uint8) - ord("0")
            encoded.append(bool(j.get("encoded", 1)))
        elif "packet" in j:
            packets.append(j)
        else:
            summary = j
    if summary is not None:
        summary["encoded"] = encoded  # per frame: False where the change gate skipped it
    return fates, packets, summary


def all_labels(frames, layers, window, cache, key):
    """cell_labels of every frame t >= 1 (cached: they depend on the scene only)."""
    path = os.path.join(cache, key + ".npy") if cache else None
    if path and os.path.exists(path):
        return np.load(path)
    lab = np.stack([np.zeros(GRID * GRID, np.int8)] +
                   [cell_labels(frames, layers, t, window) for t in range(1, len(frames))])
    if path:
        os.makedirs(cache, exist_ok=True)
        np.save(path, lab)
    return lab


def score_fates(labels, fates, per_frame, scene):
    c = dict(new=0, new_hit=0, new_kept=0, static=0, static_hit=0, ignored=0)
    rows = []
    for t in range(1, len(labels)):
        lab = labels[t]
        fa = fates[t]
        new, static = lab == 1, lab == 0
        r = dict(new=int(new.sum()), new_hit=int((new & (fa != 1)).sum()),
                 new_kept=int((new & (fa == 0)).sum()), static=int(static.sum()),
                 static_hit=int((static & (fa == 1)).sum()), ignored=int((lab < 0).sum()))
        for k in c:
            c[k] += r[k]
        if per_frame:
            rows.append(dict(scene=scene, frame=t, **r))
    return c, rows


def query_recall(frames, packets, target):
    """Mean over window packets of the share of the target's cells (>= 50% covered) in the
    window's frames represented by a kept target token covering the same part of the object."""
    info = [object_cells(f, target) for f in frames]
    shares = []
    for p in packets:
        kept = []
        for fr, y, x in p["tokens"]:
            cov, oy, ox = info[fr]
            i = y * GRID + x
            if cov[i] >= 0.5:
                kept.append((oy[i], ox[i]))
        kept = np.array(kept).reshape(-1, 2)
        total = hit = 0
        for t in range(p["frame_first"], p["frame_last"] + 1):
            cov, oy, ox = info[t]
            for i in np.nonzero(cov >= 0.5)[0]:
                total += 1
                if len(kept):
                    iy = np.clip(CELL - np.abs(kept[:, 0] - oy[i]), 0, None)
                    ix = np.clip(CELL - np.abs(kept[:, 1] - ox[i]), 0, None)
                    hit += bool(np.any(iy * ix >= QUERY_OVERLAP * CELL * CELL))
        if total:
            shares.append(hit / total)
    return float(np.mean(shares)) if shares else float("nan")


def ratio(a, b):
    return round(a / b, 4) if b else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/bench/real-stream")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--scenes", default=",".join(SCENES))
    ap.add_argument("--tau-t", type=float)
    ap.add_argument("--kernel-sigma", type=float)
    ap.add_argument("--mass-gamma", type=float)
    ap.add_argument("--query-kernel-sigma", type=float)
    ap.add_argument("--gsp-keep", type=float)
    ap.add_argument("--cut-fraction", type=float)
    ap.add_argument("--window", type=int)
    ap.add_argument("--hop", type=int)
    ap.add_argument("--query-budgets", default="64,128")
    ap.add_argument("--no-query", action="store_true")
    ap.add_argument("--no-pixels", action="store_true",
                    help="push the tokens without pixel evidence (the token-only rule)")
    ap.add_argument("--query-scale", choices=("frame", "fit"),
                    help="how real-stream encodes the exemplar (default: frame, its scale in the video)")
    ap.add_argument("--per-frame", action="store_true")
    ap.add_argument("--label", default="")
    ap.add_argument("--out")
    ap.add_argument("--cache", help="directory for the ground-truth labels (reused across runs)")
    args = ap.parse_args()
    window = args.window or 16
    out = open(args.out, "a") if args.out else None

    def emit(j):
        line = json.dumps(j)
        print(line, flush=True)
        if out:
            out.write(line + "\n")

    for scene in args.scenes.split(","):
        si = SCENES.index(scene) if scene in SCENES else len(SCENES)  # the same seed in any subset
        frames, layers = scene_frames(scene, args.frames, 1000 + si)
        fates, packets, summary = run_stream(args.bin, frames, args)
        labels = all_labels(frames, layers, window, args.cache,
                            f"{scene}-T{args.frames}-W{window}-{si}")
        c, rows = score_fates(labels, fates, args.per_frame, scene)
        for r in rows:
            emit(r)
        res = dict(label=args.label, scene=scene, frames=len(frames),
                   tau_t=summary["tau_t"], kernel_sigma=summary["kernel_sigma"],
                   new_recall=ratio(c["new_hit"], c["new"]),
                   new_kept=ratio(c["new_kept"], c["new"]),
                   static_precision=ratio(c["static_hit"], c["static"]),
                   new_cells=c["new"], static_cells=c["static"], ignored_cells=c["ignored"],
                   scene_cuts=summary["scene_cuts"], encode_ms=summary["encode_ms"])
        if scene in QUERY_SCENES and not args.no_query:
            exemplar = objects_library()["cup"][1]
            for b in [int(x) for x in args.query_budgets.split(",")]:
                _, pk0, _ = run_stream(args.bin, frames, args, ["--budget", str(b)])
                _, pk1, _ = run_stream(args.bin, frames, args, ["--budget", str(b)], exemplar)
                res[f"target_recall_noquery_b{b}"] = round(query_recall(frames, pk0,
                                                                        QUERY_TARGET), 4)
                res[f"query_recall_b{b}"] = round(query_recall(frames, pk1, QUERY_TARGET), 4)
        emit(res)


if __name__ == "__main__":
    main()
