"""Benchmark (issue 7): the training cost of each transfer method against plain fine-tuning (``direct``).

Run: XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_methods.py [--pair id+nl:ms] [--encoder e5-small]
     [--max-train-samples 1000] [--epochs 2] [--mlm-sentences 500] [--repeats 3] [--write]

Each method is trained from scratch in its own child process (a fresh models folder, so nothing is cached),
and that child reports its wall time, its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``,
which includes the loaded encoders and the data). ``tracemalloc`` is not used: it slows every Python-level
allocation (tokenization, data loading) several-fold and misses torch's C++ tensors. The teachers of ``distill``
are the ``direct`` models of its
sources: they are trained beforehand in the same folder and not counted, so ``distill`` is the cost of the
student alone (teacher inference on the unlabelled text + student training); ``madx`` includes training its two
language adapters. ``--write`` replaces the "Methods: training cost" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

SECTION = "## Methods: training cost"
METHODS = ("direct", "multi-source", "distill", "lora", "madx")


def child(args: argparse.Namespace) -> None:
    """Train one method (in this process) and print one JSON line with its cost."""
    import resource
    import time

    from xner.methods import MethodConfig, train_method
    from xner.methods.adapters import MLMConfig

    target, sources = args.pair.split(":")[1], args.pair.split(":")[0].split("+")
    srcs = tuple(sources if args.method in ("multi-source", "distill") else sources[:1])
    mc = MethodConfig(
        method=args.method,
        target=target,
        sources=srcs,
        encoder=args.encoder,
        epochs=args.epochs,
        max_train_samples=args.max_train_samples,
        max_unlabeled=args.max_train_samples,
        max_eval_samples=200,
        mlm=MLMConfig(max_sentences=args.mlm_sentences, progress=False),
    )
    if args.method == "distill":  # teachers first, not counted
        for s in srcs:
            train_method(
                MethodConfig(
                    method="direct",
                    target=target,
                    sources=(s,),
                    encoder=args.encoder,
                    epochs=args.epochs,
                    max_train_samples=args.max_train_samples,
                    max_eval_samples=200,
                ),
                args.models_dir,
            )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    tm = train_method(mc, args.models_dir)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    trainable = tm.info.get("trainable_parameters")
    print(
        "RESULT "
        + json.dumps(
            {
                "method": args.method,
                "wall_s": wall,
                "peak_rss_mb": rss / 1024,
                "rss_before_mb": rss0 / 1024,
                "cached": tm.cached,
                "trainable_parameters": trainable,
            }
        )
    )


def run(args: argparse.Namespace) -> list[dict]:
    """Run every method in a child process; return the rows."""
    import statistics

    rows = []
    args.load_before = os.getloadavg()[0]
    for m in args.methods:
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="bench-methods-") as tmp:
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    "--method",
                    m,
                    "--pair",
                    args.pair,
                    "--encoder",
                    args.encoder,
                    "--max-train-samples",
                    str(args.max_train_samples),
                    "--epochs",
                    str(args.epochs),
                    "--mlm-sentences",
                    str(args.mlm_sentences),
                    "--models-dir",
                    str(Path(tmp) / m),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
            if out.returncode != 0 or not line:
                raise RuntimeError(f"{m} failed:\n{out.stderr[-3000:]}")
            runs.append(json.loads(line[-1][7:]))
            print(runs[-1], flush=True)
        row = dict(runs[0])
        row["wall_s"] = statistics.median(r["wall_s"] for r in runs)
        row["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in runs)
        row["runs"] = len(runs)
        rows.append(row)
    args.load_after = os.getloadavg()[0]
    base = next((r["wall_s"] for r in rows if r["method"] == "direct"), None)
    for r in rows:
        r["x_direct"] = r["wall_s"] / base if base else float("nan")
    return rows


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    """The RESULTS.md section."""
    lines = [
        SECTION,
        "",
        f"Issue 7. Pair `{args.pair}` (SOURCES:TARGET), encoder `{args.encoder}`, {args.max_train_samples} "
        f"labelled sentences per source (as many unlabelled target sentences for distill), {args.mlm_sentences} "
        f"MLM sentences per MAD-X language adapter, {args.epochs} epochs; each method trained from scratch in a "
        f"fresh process, median of {args.repeats} runs; {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{args.load_before:.1f} before and {args.load_after:.1f} after.",
        f"Command: `XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_methods.py --pair {args.pair} "
        f"--encoder {args.encoder} --max-train-samples {args.max_train_samples} --epochs {args.epochs} "
        f"--mlm-sentences {args.mlm_sentences} --repeats {args.repeats} --write`",
        "",
        "| method | wall (s) | × direct | peak RSS (MB) | trainable params |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        tp = r["trainable_parameters"]
        lines.append(
            f"| {r['method']} | {r['wall_s']:.1f} | {r['x_direct']:.2f} | {r['peak_rss_mb']:.0f} | "
            f"{tp if tp is not None else 'all but the word embeddings'} |"
        )
    lines += [
        "",
        "`distill` excludes training its teachers (they are the `direct` models); `madx` includes its two "
        "language adapters. Peak RSS includes every model the method loads (teachers, encoder).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments; run the children or one child."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pair", default="id+nl:ms")
    ap.add_argument("--encoder", default="e5-small")
    ap.add_argument("--max-train-samples", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--mlm-sentences", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--models-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    rows = run(args)
    text = markdown(rows, args)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
