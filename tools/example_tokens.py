#!/usr/bin/python3
"""Writes a deterministic example frame of tokens for the demo: a 24 x 24 grid (576 tokens,
D = 256) that looks like a scene to the pruner — a few large regions of near-identical tokens
(sky, road, wall) and two small distinct objects — plus a query equal to one object's look.

usage: example_tokens.py OUT_DIR   (writes tokens.npy and query.npy)
"""
import os
import sys

import numpy as np


def main(out):
    rng = np.random.default_rng(2025)
    d, h, w = 256, 24, 24
    looks = rng.standard_normal((6, d)).astype(np.float32)
    grid = np.zeros((h, w), dtype=int)
    grid[:8, :] = 0          # sky
    grid[8:16, :] = 1        # wall
    grid[16:, :] = 2         # road
    grid[10:13, 4:7] = 3     # object A (3 x 3 patches)
    grid[18:20, 15:19] = 4   # object B (2 x 4 patches)
    grid[2:4, 20:22] = 5     # object C in the sky
    tokens = looks[grid.ravel()] + 0.15 * rng.standard_normal((h * w, d)).astype(np.float32)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "tokens.npy"), tokens.astype(np.float32))
    np.save(os.path.join(out, "query.npy"), looks[4:5])


if __name__ == "__main__":
    main(sys.argv[1])
