#!/usr/bin/python3
"""Runs the gst-launch examples of docs/gstreamer.md as written.

Every ```sh block runs with bash in a fresh empty directory, with the plugin from the build tree
(GST_PLUGIN_PATH_1_0), a private registry and the scriptprune CLI on PATH. A block marked
```sh fails must fail with scriptprune's message. The JSON lines that `scriptprune inspect` prints
are checked: every window packet holds exactly its budget (the examples ask for fewer tokens than
their windows have candidates), every frame packet at most its budget. `gst-inspect-1.0 --plugin scriptprune` must list the four elements.

usage: run_examples.py DOCS_MD PLUGIN_DIR CLI_DIR
       run_examples.py --own-video README_MD BUILD_DIR SOURCE_DIR

With --own-video, the README's ```sh blocks that run on "/path/to/your/video.mp4" run with that
path replaced by a generated 854x480 clip (a width that is not a multiple of 4), in a fresh
directory where `build` and `tools` lead to the build tree and the source tree, as they would in
a checkout: each must exit 0, the token files they write must hold tokens and the overlay PNGs
must have the clip's size.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

ELEMENTS = ("scriptencode", "scriptprune", "scriptoverlay", "scriptsink")


def blocks(markdown):
    """(info string, body) of every fenced block."""
    return re.findall(r"^```([^\n]*)\n(.*?)^```", markdown, re.S | re.M)


def check_inspect_lines(stdout, where, exact_windows=True):
    packets = 0
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if "budget" in obj and "tokens" in obj and "kind" in obj:
            packets += 1
            # A window has more candidates than the examples' budgets: exactly the budget. A
            # frame packet holds that frame's new candidates, at most the budget.
            exact = exact_windows and obj["kind"] == "window"
            if obj["tokens"] > obj["budget"] or (exact and obj["tokens"] != obj["budget"]):
                raise AssertionError(f"{where}: packet {obj} does not hold its budget")
    return packets


OWN_VIDEO = "/path/to/your/video.mp4"
OWN_SIZE = (854, 480)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path}: not a PNG")
    return struct.unpack(">II", head[16:24])


def check_outputs(work, where):
    """The token files and overlay PNGs an own-video example wrote: (token files, PNGs)."""
    tokens, pngs = [], []
    for d, _, files in os.walk(work):  # not into the `build` and `tools` links
        tokens += [os.path.join(d, f) for f in files if f.endswith((".safetensors", ".sptok"))]
        pngs += [os.path.join(d, f) for f in files if f.endswith(".png")]
    for t in tokens:
        if os.path.getsize(t) < 64:
            raise AssertionError(f"{where}: {t} is empty")
    for p in pngs:
        if png_size(p) != OWN_SIZE:
            raise AssertionError(f"{where}: {p} is {png_size(p)}, not the clip's {OWN_SIZE}")
    return len(tokens), len(pngs)


def own_video(readme, build_dir, source_dir):
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    failures = runs = 0
    with tempfile.TemporaryDirectory(prefix="scriptd-readme-") as tmp:
        clip = os.path.join(tmp, "own.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f",
                        "lavfi", "-i", f"testsrc=s={OWN_SIZE[0]}x{OWN_SIZE[1]}:r=25:d=10",
                        "-c:v", "mpeg4", "-q:v", "4", "-pix_fmt", "yuv420p", clip],
                       check=True, timeout=300)
        env = dict(os.environ)
        env["GST_REGISTRY_1_0"] = os.path.join(tmp, "registry.bin")
        env["SCRIPTD_BUILD"] = build_dir
        env.pop("GST_PLUGIN_PATH", None)
        env.pop("GST_PLUGIN_PATH_1_0", None)
        for n, (info, body) in enumerate(blocks(text)):
            if info.split()[:1] != ["sh"] or OWN_VIDEO not in body:
                continue
            work = os.path.join(tmp, f"example-{n}")
            os.mkdir(work)
            os.symlink(build_dir, os.path.join(work, "build"))
            os.symlink(os.path.join(source_dir, "tools"), os.path.join(work, "tools"))
            runs += 1
            where = f"README example {n} ({body.strip().splitlines()[0][:60]}...)"
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", body.replace(OWN_VIDEO, clip)],
                               cwd=work, env=env, capture_output=True, text=True, timeout=600)
            try:
                if r.returncode != 0:
                    raise AssertionError(f"{where}: exit {r.returncode}\n{r.stdout[-2000:]}\n"
                                         f"{r.stderr[-2000:]}")
                # A video that barely changes may leave a window fewer candidates than its
                # budget: at most the budget here.
                check_inspect_lines(r.stdout, where, exact_windows=False)
                tokens, pngs = check_outputs(work, where)
                if tokens == 0:
                    raise AssertionError(f"{where}: wrote no token file")
                print(f"ok {where}: {tokens} token files, {pngs} overlay PNGs")
            except AssertionError as e:
                failures += 1
                print(f"FAIL {e}")
    if runs < 3:
        print(f"FAIL only {runs} own-video examples found in {readme}")
        failures += 1
    print(f"{runs} own-video examples, {failures} failures")
    return 1 if failures else 0


def main():
    if sys.argv[1] == "--own-video":
        return own_video(*(os.path.abspath(a) for a in sys.argv[2:5]))
    docs, plugin_dir, cli_dir = (os.path.abspath(a) for a in sys.argv[1:4])
    with open(docs, encoding="utf-8") as f:
        text = f.read()
    failures = 0
    checked_packets = 0
    runs = 0
    with tempfile.TemporaryDirectory(prefix="scriptd-examples-") as tmp:
        env = dict(os.environ)
        env["GST_PLUGIN_PATH_1_0"] = plugin_dir
        env["GST_REGISTRY_1_0"] = os.path.join(tmp, "registry.bin")
        env["PATH"] = cli_dir + os.pathsep + env.get("PATH", "")
        env.pop("GST_PLUGIN_PATH", None)
        for n, (info, body) in enumerate(blocks(text)):
            words = info.split()
            if not words or words[0] != "sh":
                continue
            expect_fail = "fails" in words[1:]
            work = os.path.join(tmp, f"example-{n}")
            os.mkdir(work)
            runs += 1
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=work, env=env,
                               capture_output=True, text=True, timeout=300)
            where = f"example {n} ({body.strip().splitlines()[0][:60]}...)"
            try:
                if expect_fail:
                    if r.returncode == 0:
                        raise AssertionError(f"{where}: succeeded but should fail")
                    if "put scriptencode upstream" not in r.stdout + r.stderr:
                        raise AssertionError(f"{where}: no clear error message:\n{r.stderr}")
                else:
                    if r.returncode != 0:
                        raise AssertionError(f"{where}: exit {r.returncode}\n{r.stdout[-2000:]}\n"
                                             f"{r.stderr[-2000:]}")
                    checked_packets += check_inspect_lines(r.stdout, where)
                    if "gst-inspect-1.0 --plugin scriptprune" in body:
                        missing = [e for e in ELEMENTS if e not in r.stdout]
                        if missing:
                            raise AssertionError(f"{where}: plugin listing lacks {missing}")
                print(f"ok {where}")
            except AssertionError as e:
                failures += 1
                print(f"FAIL {e}")
    if runs < 5:
        print(f"FAIL only {runs} runnable examples found in {docs}")
        failures += 1
    if checked_packets < 10:
        print(f"FAIL only {checked_packets} packets were read back and checked")
        failures += 1
    print(f"{runs} examples, {checked_packets} packets checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
