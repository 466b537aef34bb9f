"""Benchmark (issue 3): all-pairs divergences over every WikiANN language of the local data.

Run: XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_divergence.py [--repeats 5] [--tokenizer PATH]

One run = load the train and test split of every language (``xner.data.load_split``), profile them
(``xner.divergence.load_profiles``) and compare every train with every test (``xner.divergence.all_pairs``:
24 × 24 = 576 ordered pairs, all measures). Prints the median over repeats of each phase and of the whole,
and writes the section "Divergence" of bench/RESULTS.md (other sections are left as they are).
Target: under 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

TARGET_S = 10.0
SECTION = "Divergence"


def one_run(langs: list[str], tokenizer: str | None) -> tuple[dict[str, float], int]:
    """Time the three phases of one all-pairs computation; return the timings and the table's row count."""
    from xner import divergence as dv
    from xner.data import load_split

    c0, t0 = time.process_time(), time.perf_counter()
    train = {lang: load_split(lang, "train") for lang in langs}
    test = {lang: load_split(lang, "test") for lang in langs}
    t1 = time.perf_counter()
    enc = dv.resolve_tokenizer(tokenizer) if tokenizer else None
    src = {lang: dv.profile_split(ds, f"{lang}/train", tokenizer=enc) for lang, ds in train.items()}
    tgt = {lang: dv.profile_split(ds, f"{lang}/test", tokenizer=enc) for lang, ds in test.items()}
    t2 = time.perf_counter()
    table = dv.all_pairs(src, tgt)
    t3 = time.perf_counter()
    return {
        "load": t1 - t0,
        "profile": t2 - t1,
        "compare": t3 - t2,
        "total": t3 - t0,
        "cpu": time.process_time() - c0,
    }, len(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json/folder: include the subword-overlap measures")
    ap.add_argument("--no-write", action="store_true", help="print only; do not update bench/RESULTS.md")
    args = ap.parse_args()
    from xner import divergence as dv

    langs = dv.local_languages("wikiann")
    runs = []
    rows = 0
    for _ in range(args.repeats):
        timing, rows = one_run(langs, args.tokenizer)
        runs.append(timing)
        print("  run:", ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    verdict = "meets" if med["total"] < TARGET_S else "misses"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        load1 = float("nan")
    body = f"""All-pairs divergences over the {len(langs)} WikiANN languages of `$XNER_DATA_DIR` (train of each language
against test of each: {len(langs) ** 2} ordered pairs, {rows} measure values{
        ", with subword overlap" if args.tokenizer else ""
    }).
Median of {args.repeats} runs, wall-clock seconds:

| phase | median s |
|---|---|
| load 2 × {len(langs)} splits (`xner.data.load_split`) | {med["load"]:.2f} |
| profile them (`xner.divergence.profile_split`) | {med["profile"]:.2f} |
| compare all pairs (`xner.divergence.all_pairs`) | {med["compare"]:.2f} |
| **total** | **{med["total"]:.2f}** |
| (CPU time of the process for the total) | {med["cpu"]:.2f} |

Target under {TARGET_S:.0f} s on 2 cores: {verdict} it ({platform.machine()}, {cores} cores available, 1-min load
average {load1:.1f} at the end{" — other jobs shared the machine" if load1 > 1.5 else ""}; Python
{platform.python_version()}).
Repeat: `XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_divergence.py --repeats {args.repeats}`
"""
    print(body)
    if not args.no_write:
        out = Path(__file__).resolve().parent / "RESULTS.md"
        write_section(f"## {SECTION}\n\n{body}", out)
        print("updated", out)


if __name__ == "__main__":
    main()
