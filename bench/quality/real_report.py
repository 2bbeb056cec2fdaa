#!/usr/bin/python3
"""Summarises real_textures.py's JSON lines: a markdown table per label (before / after /
anchors) and a PNG plot of new-content recall and static precision per scene, drawn with matplotlib.

usage: real_report.py RESULTS.jsonl [--png docs/real-textures.png] [--labels anchors,motion]
                      [--query-png docs/real-textures-query.png]
Prints the markdown to stdout. --query-png: query-target recall (solid) and the target's recall
without a query (dashed) against the budget, per object scene and label.
"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("results")
parser.add_argument("--png")
parser.add_argument("--labels", default="anchors,motion")
parser.add_argument("--query-png")
args = parser.parse_args()

rows = [json.loads(line) for line in open(args.results) if line.startswith("{")]
labels = args.labels.split(",")
scenes = []
for r in rows:
    if "scene" in r and "new_recall" in r and r["scene"] not in scenes:
        scenes.append(r["scene"])
by = {(r["label"], r["scene"]): r for r in rows if "new_recall" in r}


def fmt(v):
    return "-" if v is None else f"{v:.3f}"


budgets = sorted({int(k.rsplit("_b", 1)[1]) for r in rows for k in r if k.startswith("query_recall_b")})
head = ["scene"]
for lab in labels:
    head += [f"new recall ({lab})", f"static precision ({lab})"]
print("| " + " | ".join(head) + " |")
print("|---|" + "---:|" * (len(head) - 1))
for s in scenes:
    cells = [s]
    for lab in labels:
        r = by.get((lab, s), {})
        cells += [fmt(r.get("new_recall")), fmt(r.get("static_precision"))]
    print("| " + " | ".join(cells) + " |")
print()
if budgets:
    head = ["scene", "budget"]
    for lab in labels:
        head += [f"target recall, no query ({lab})", f"query-target recall ({lab})"]
    print("| " + " | ".join(head) + " |")
    print("|---|---:|" + "---:|" * (len(head) - 2))
    for s in scenes:
        for b in budgets:
            if not any(f"query_recall_b{b}" in by.get((lab, s), {}) for lab in labels):
                continue
            cells = [s, str(b)]
            for lab in labels:
                r = by.get((lab, s), {})
                cells += [fmt(r.get(f"target_recall_noquery_b{b}")),
                          fmt(r.get(f"query_recall_b{b}"))]
            print("| " + " | ".join(cells) + " |")
    print()

if args.png:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    width = 0.8 / len(labels)
    for ax, key, title in ((axes[0], "new_recall", "new-content recall"),
                           (axes[1], "static_precision", "static precision")):
        shown = [s for s in scenes if any(by.get((lab, s), {}).get(key) is not None
                                          for lab in labels)]
        for i, lab in enumerate(labels):
            vals = [by.get((lab, s), {}).get(key) or 0.0 for s in shown]
            ax.bar([k + i * width for k in range(len(shown))], vals, width, label=lab)
        ax.axhline(0.95, color="black", linestyle="--", linewidth=0.8)
        ax.set_xticks([k + width * (len(labels) - 1) / 2 for k in range(len(shown))])
        ax.set_xticklabels(shown, rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_title(title + " (dashed: 0.95 target)")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("Real-texture benchmark: patch encoder + stream at the default settings")
    fig.tight_layout()
    fig.savefig(args.png, dpi=90)

if args.query_png and budgets:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    qscenes = [s for s in scenes if any(f"query_recall_b{b}" in by.get((lab, s), {})
                                        for lab in labels for b in budgets)]
    fig, axes = plt.subplots(1, len(qscenes), figsize=(6 * len(qscenes), 4.2), sharey=True,
                             squeeze=False)
    for ax, s in zip(axes[0], qscenes):
        for i, lab in enumerate(labels):
            r = by.get((lab, s), {})
            bs = [b for b in budgets if f"query_recall_b{b}" in r]
            if not bs:
                continue
            line, = ax.plot(bs, [r[f"query_recall_b{b}"] for b in bs], marker="o", label=lab)
            ax.plot(bs, [r[f"target_recall_noquery_b{b}"] for b in bs], marker=".",
                    linestyle="--", color=line.get_color())
        ax.axhline(0.9, color="black", linestyle=":", linewidth=0.8)
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xlabel("tokens per window")
        ax.set_title(s + " (dotted: 0.9 and 0.5)")
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("target recall (solid: query; dashed: none)")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Real-texture benchmark: query-target recall at the default settings")
    fig.tight_layout()
    fig.savefig(args.query_png, dpi=90)
