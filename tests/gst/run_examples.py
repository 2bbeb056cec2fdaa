#!/usr/bin/python3
"""Runs the gst-launch examples of docs/gstreamer.md as written.

Every ```sh block runs with bash in a fresh empty directory, with the plugin from the build tree
(GST_PLUGIN_PATH_1_0), a private registry and the scriptprune CLI on PATH. A block marked
```sh fails must fail with scriptprune's message. The JSON lines that `scriptprune inspect` prints
are checked: every window packet holds exactly its budget (the examples ask for fewer tokens than
their windows have candidates), every frame packet at most its budget. `gst-inspect-1.0 --plugin scriptprune` must list the four elements.

usage: run_examples.py DOCS_MD PLUGIN_DIR CLI_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ELEMENTS = ("scriptencode", "scriptprune", "scriptoverlay", "scriptsink")


def blocks(markdown):
    """(info string, body) of every fenced block."""
    return re.findall(r"^```([^\n]*)\n(.*?)^```", markdown, re.S | re.M)


def check_inspect_lines(stdout, where):
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
            exact = obj["kind"] == "window"
            if obj["tokens"] > obj["budget"] or (exact and obj["tokens"] != obj["budget"]):
                raise AssertionError(f"{where}: packet {obj} does not hold its budget")
    return packets


def main():
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
