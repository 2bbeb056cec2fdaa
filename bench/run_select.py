#!/usr/bin/python3
"""Runs the selection benchmark grid of docs/performance.md in one go and prints JSON lines plus a
Markdown table.

For N x D in {576 x 1024, 576 x 4096, 2880 x 4096} and k in {64, 128, 192, 320}: `script` through
bench-select (which also times one full N x N x D cblas_ssyrk on the same data in the same process)
and the same selection written with PyTorch (torch_script.py, 2 threads).

usage: bench/run_select.py --bench-select BUILD/bench/bench-select [--reps R] [--no-torch]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(576, 1024), (576, 4096), (2880, 4096)]
BUDGETS = [64, 128, 192, 320]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-select", required=True)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--markdown", help="also write the table to this file")
    a = ap.parse_args()
    rows = []
    for n, d in SHAPES:
        for k in BUDGETS:
            reps = a.reps if n <= 576 else max(3, a.reps // 3)
            c = run_json([a.bench_select, "--n", str(n), "--d", str(d), "--k", str(k),
                          "--method", "script", "--threads", str(a.threads), "--reps", str(reps)])
            print(json.dumps(c), flush=True)
            t = None
            if not a.no_torch:
                t = run_json([sys.executable, os.path.join(HERE, "torch_script.py"), "--n", str(n),
                              "--d", str(d), "--k", str(k), "--threads", str(a.threads),
                              "--reps", str(max(3, reps // 3))])
                print(json.dumps(t), flush=True)
            rows.append((c, t))
    lines = ["| N | D | k | script ms | SSYRK ms | script / SSYRK | PyTorch ms | speed-up |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c, t in rows:
        tm = f"{t['median_ms']:.1f}" if t else "-"
        sp = f"{t['median_ms'] / c['median_ms']:.1f}x" if t else "-"
        lines.append(f"| {c['n']} | {c['d']} | {c['k']} | {c['median_ms']:.2f} | "
                     f"{c['ssyrk_ms']:.2f} | {c['ratio']:.2f} | {tm} | {sp} |")
    table = "\n".join(lines)
    print(table, file=sys.stderr)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
