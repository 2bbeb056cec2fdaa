#!/usr/bin/python3
"""The change gate on the real-texture videos of real_textures.py (skimage photographs, moving
objects cut from photographs, Gaussian sensor noise): does skipping the encoder on unchanged
frames change what the stream emits?

Each scene runs twice through `real-stream` (the patch encoder and sp_stream at the core
defaults): every frame encoded, and with core's change gate before the encoder (--gate T; a
skipped frame pushes the last encoded frame's tokens again, as scriptencode does). Per scene:
  seed              which of the --seeds runs (other sensor noise; 0 = real_textures.py's)
  frames_encoded    frames the gated run encoded (of `frames`)
  change_max_skipped the largest change (8-bit levels) among the frames the gate skipped
  jaccard_mean/min  per packet (the same window in both runs), |A n B| / |A u B| of the kept
                    tokens identified by (frame, row, column)
  packets_ge_095    share of packets with Jaccard >= 0.95
  new_recall        real_textures.py's recall of NEW cells (moved or uncovered content the
                    temporal graph calls new), ungated and gated
  query_recall_b64  (scenes with objects) share of the target object's cells represented in each
                    window's packet with the object's exemplar as the query, ungated and gated
  held_jaccard_min  (scenes where the gate skipped frames) the same run encoding every frame of a
                    video whose skipped frames are replaced by the last frame the gate let
                    through, against the gated run: 1.0 when pushing the last tokens again is
                    exactly encoding the held picture, so that all the difference between gated
                    and ungated is the skipped frames' own content (sensor noise)
  held_fates_differ tokens whose fate differs in that comparison (0 expected)
  load              /proc/loadavg when the scene's runs ended (the machine may be shared)
One JSON line per scene.

Usage: /usr/bin/python3 bench/quality/real_gate.py --bin build/bench/real-stream [--gate 2]
       [--frames 32] [--scenes a,b] [--out file.jsonl]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_textures as R  # noqa: E402

# real_textures.py's scenes, and two of ours where the objects of objects_grass pause: the
# gate can only skip frames where nothing moves.
SCENES = ("objects_grass", "objects_gravel", "still_noise", "pan_photos", "cut", "stop_go_grass",
          "rare_grass")
OBJECT_SPECS = [("cup", 8, 6, 40, 30), ("cat", -12, 8, 200, 220), ("face", 16, -10, 60, 250),
                ("rocket", -6, 0, 150, 40)]  # as objects_grass: name, vx, vy, x0, y0
MOVING = {
    "stop_go_grass": lambda t: (t // 4) % 2 == 1,  # 4 frames still, 4 moving, ...
    "rare_grass": lambda t: 12 <= t < 16,  # still but for 4 frames in the middle
}


def paused_frames(scene, T, seed):
    """objects_grass's background and objects (the cup is layer 1, the query target), the objects
    advancing one step only in the frames where MOVING[scene] holds; every frame has fresh sensor
    noise (sigma 2)."""
    rng = np.random.default_rng(seed)
    layers = {0: R.Layer(np.ascontiguousarray(R.tint(R.photo("grass"), *R.GRASS[1:])))}
    lib = R.objects_library()
    for i, spec in enumerate(OBJECT_SPECS):
        layers[i + 1] = lib[spec[0]][0]
    frames, step = [], 0
    for t in range(T):
        step += t > 0 and MOVING[scene](t)
        objs = []
        for i, (_, vx, vy, x0, y0) in enumerate(OBJECT_SPECS):
            ob = layers[i + 1]
            h, w = ob.mask.shape
            objs.append((i + 1, ob, int(R.bounce(y0, vy, 0, R.FRAME - h, step)),
                         int(R.bounce(x0, vx, 0, R.FRAME - w, step))))
        frames.append(R.render(0, layers[0], 64, 64, 1.0, objs, rng, 2.0))
    return frames, layers


def key(tok):
    return tuple(tok)


def jaccards(pa, pb):
    """Per packet of the same window: Jaccard of the kept token sets."""
    by_w = {p["packet"]: p for p in pb}
    out = []
    for p in pa:
        q = by_w.get(p["packet"])
        a = {key(t) for t in p["tokens"]}
        b = {key(t) for t in q["tokens"]} if q else set()
        u = a | b
        out.append(len(a & b) / len(u) if u else 1.0)
    return out


def load_average():
    try:
        with open("/proc/loadavg") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def held_frames(frames, encoded):
    """frames with each one the gate skipped replaced by the last one it let through."""
    out, last = [], None
    for f, enc in zip(frames, encoded):
        if enc or last is None:
            last = f
        out.append(last)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/bench/real-stream")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--gate", type=float, default=2.0, help="change threshold (8-bit levels)")
    ap.add_argument("--max-skip-s", type=float, default=10.0)
    ap.add_argument("--scenes", default=",".join(SCENES))
    ap.add_argument("--budget", type=int, default=64, help="query runs: tokens per window")
    ap.add_argument("--seeds", type=int, default=1,
                    help="runs per scene, each with other sensor noise (one line each)")
    ap.add_argument("--out")
    ap.add_argument("--cache")
    args = ap.parse_args()
    # run_stream reads these stream options from args; None keeps the core defaults.
    for opt in ("tau_t", "kernel_sigma", "mass_gamma", "gsp_keep", "window", "hop",
                "cut_fraction"):
        setattr(args, opt, None)
    gate = ["--gate", str(args.gate), "--max-skip-s", str(args.max_skip_s)]
    out = open(args.out, "a") if args.out else None
    for scene, k in [(sc, k) for sc in args.scenes.split(",") for k in range(args.seeds)]:
        si = R.SCENES.index(scene) if scene in R.SCENES else SCENES.index(scene)
        if scene in MOVING:
            frames, layers = paused_frames(scene, args.frames, 2000 + si + 100 * k)
        else:
            frames, layers = R.scene_frames(scene, args.frames, 1000 + si + 100 * k)
        f0, p0, s0 = R.run_stream(args.bin, frames, args)
        f1, p1, s1 = R.run_stream(args.bin, frames, args, gate)
        labels = R.all_labels(frames, layers, 16, args.cache if k == 0 else None,
                              f"{scene}-T{args.frames}-W16-{si}")
        c0, _ = R.score_fates(labels, f0, False, scene)
        c1, _ = R.score_fates(labels, f1, False, scene)
        j = jaccards(p0, p1)
        res = dict(bench="gate-real-textures", scene=scene, seed=k, frames=len(frames),
                   threshold=args.gate, frames_encoded=s1["frames_encoded"],
                   change_max_skipped=s1["change_max_skipped"],
                   packets=len(p0), packets_gated=len(p1),
                   jaccard_mean=round(sum(j) / len(j), 4) if j else None,
                   jaccard_min=round(min(j), 4) if j else None,
                   packets_ge_095=round(sum(x >= 0.95 for x in j) / len(j), 4) if j else None,
                   new_recall=R.ratio(c0["new_hit"], c0["new"]),
                   new_recall_gated=R.ratio(c1["new_hit"], c1["new"]),
                   static_precision=R.ratio(c0["static_hit"], c0["static"]),
                   static_precision_gated=R.ratio(c1["static_hit"], c1["static"]),
                   ms_per_frame=s0["encode_ms"], ms_per_frame_gated=s1["encode_ms"])
        if not all(s1["encoded"]):
            f2, p2, _ = R.run_stream(args.bin, held_frames(frames, s1["encoded"]), args)
            jh = jaccards(p2, p1)
            res["held_jaccard_min"] = round(min(jh), 4) if jh else None
            res["held_fates_differ"] = int(sum((f2[t] != f1[t]).sum() for t in f1))
        if scene in R.QUERY_SCENES or scene in MOVING:
            exemplar = R.objects_library()["cup"][1]
            b = ["--budget", str(args.budget)]
            _, q0, _ = R.run_stream(args.bin, frames, args, b, exemplar)
            _, q1, _ = R.run_stream(args.bin, frames, args, b + gate, exemplar)
            res[f"query_recall_b{args.budget}"] = round(R.query_recall(frames, q0,
                                                                       R.QUERY_TARGET), 4)
            res[f"query_recall_b{args.budget}_gated"] = round(
                R.query_recall(frames, q1, R.QUERY_TARGET), 4)
            jq = jaccards(q0, q1)
            res["query_jaccard_min"] = round(min(jq), 4) if jq else None
        res["load"] = load_average()
        line = json.dumps(res)
        print(line, flush=True)
        if out:
            out.write(line + "\n")


if __name__ == "__main__":
    main()
