#!/usr/bin/python3
"""The `script` selection written with PyTorch on the CPU, as a user would without scriptd.

Same algorithm as docs/algorithm.md (bipartite GSP rounds, then greedy DPP over the survivors with
lazy kernel rows), written the straightforward way: torch matmuls for similarities, tensor ops for
scores and the Cholesky updates. Used only to time the alternative; run with Debian's
/usr/bin/python3 (python3-torch). Prints one JSON line per configuration.
"""
import argparse
import json
import math
import statistics
import time

import numpy as np
import torch


def gsp_rounds(xn, target, tau=0.2, k_min=4, gamma=1.0):
    alive = torch.arange(xn.shape[0])
    while alive.numel() > target:
        a, b = alive[0::2], alive[1::2]
        s = xn[a] @ xn[b].T
        edge = s >= tau
        deg = edge.sum(1).to(s.dtype)
        mu = torch.where(deg > 0, (s * edge).sum(1) / deg.clamp(min=1), torch.zeros_like(deg))
        score = deg * torch.exp(gamma * (mu - tau))
        low = deg < k_min
        score = torch.where(low, 0.5 * score + 0.5 * s.mean(1), score)
        r = min(alive.numel() - target, max(1, a.numel() // 2))
        gone = a[torch.topk(score, r).indices]
        keep = torch.ones(xn.shape[0], dtype=torch.bool)
        keep[gone] = False
        alive = alive[keep[alive]]
    return alive


def dpp_greedy(xc, r, k, eps=1e-4):
    n = xc.shape[0]
    d = (r * r) * (xc * xc).sum(1)
    c = torch.zeros((k, n), dtype=xc.dtype)
    picked = []
    for t in range(k):
        j = int(torch.argmax(d))
        if d[j] <= eps:
            break
        row = (xc @ xc[j]) * r * r[j]
        e = (row - c[:t].T @ c[:t, j]) / torch.sqrt(d[j])
        c[t] = e
        d = d - e * e
        d[j] = -math.inf
        picked.append(j)
    if len(picked) < k:
        rest = torch.ones(n, dtype=torch.bool)
        rest[picked] = False
        order = torch.argsort(r.masked_fill(~rest, -math.inf), descending=True)
        picked += order[: k - len(picked)].tolist()
    return sorted(picked)


def script(x, k, rho=0.5):
    xn = torch.nn.functional.normalize(x, dim=1)
    n = x.shape[0]
    c = max(k, math.ceil(rho * n))
    cand = gsp_rounds(xn, c) if c < n else torch.arange(n)
    r = torch.ones(cand.numel(), dtype=x.dtype)
    picks = dpp_greedy(xn[cand], r, k)
    return cand[picks]


def tokens(n, d, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((48, d)).astype(np.float32)
    which = rng.integers(0, 48, n)
    return torch.from_numpy(centres[which] + 0.6 * rng.standard_normal((n, d)).astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--d", type=int, required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=9)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x = tokens(a.n, a.d)
    with torch.no_grad():
        script(x, a.k)
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            kept = script(x, a.k)
            times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"bench": "select-torch", "method": "script", "n": a.n, "d": a.d,
                      "k": a.k, "threads": a.threads, "reps": a.reps,
                      "median_ms": round(statistics.median(times), 4), "kept": len(kept),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
