"""Benchmark (issue 2): loading all of $XNER_DATA_DIR, and strict F1 with a 1,000-resample bootstrap CI.

Run: XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_data_metrics.py [--repeats 5]
Prints medians over repeats; the seqeval reference recomputes seqeval's strict F1 on each resample
(timed on 50 resamples and scaled to 1,000, since the full loop takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np


def load_all(root: Path) -> int:
    from xner.data import load_split

    manifest = json.loads((root / "MANIFEST.json").read_text())
    n = 0
    for rel in manifest:
        parts = rel.split("/")
        if parts[0] == "europarl":
            ds = load_split(parts[1].removesuffix(".tsv"), "test", "europarl")
        else:
            ds = load_split(parts[1], parts[2].removesuffix(".tsv"), parts[0])
        n += len(ds)
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = Path(os.environ["XNER_DATA_DIR"])
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from xner.data import load_split, tag_names
    from xner.metrics import bootstrap_ci

    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        n = load_all(root)
        times.append(time.perf_counter() - t)
    print(f"load all {n} sentences of {root}: median {statistics.median(times):.2f} s over {args.repeats} runs")

    gold = []
    for lang in ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "tr", "fi"):
        gold += tag_names(load_split(lang, "test"))
    gold = gold[:10_000]
    rng = np.random.default_rng(0)
    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    pred = [[t if rng.random() > 0.1 else labels[rng.integers(7)] for t in g] for g in gold]
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        ci = bootstrap_ci(gold, pred, n_resamples=1000, seed=0)
        times.append(time.perf_counter() - t)
    ours = statistics.median(times)
    print(f"strict F1 + 1000-resample bootstrap CI on {len(gold)} sentences: median {ours:.3f} s ({ci})")
    t = time.perf_counter()
    for _ in range(50):
        idx = rng.integers(0, len(gold), len(gold))
        f1_score([gold[i] for i in idx], [pred[i] for i in idx], mode="strict", scheme=IOB2)
    seq = (time.perf_counter() - t) * 1000 / 50
    print(f"seqeval recomputed per resample (50 timed, scaled to 1000): {seq:.1f} s; ratio {seq / ours:.0f}x")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
