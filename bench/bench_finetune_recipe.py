"""Choosing the offline fine-tuning recipe of e5-small on dev splits only: F1 against seconds.

Run (updates the "Fine-tuning recipe" section of bench/RESULTS.md; resumable, finished runs are kept in the CSV):

    XNER_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python \\
        bench/bench_finetune_recipe.py --write

Three pairs of different kinds — id→ms (related languages), ar→fa (shared script), en→sw (unrelated) — natively
(train and dev on the target) and zero-shot (train on the source, scored on the target's dev split), each recipe
trained on the first ``--train`` sentences with seed 0. Every epoch is scored on the first ``--dev`` sentences of
the *target's dev split* (never a test split), so one run gives the F1-versus-seconds curve of its schedule; the
point reported for a recipe is its last epoch (no early stopping). Seconds are training seconds of the loop
(``train_seconds`` summed over epochs), measured on a shared 2-core machine: compare recipes by their ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner import metrics
from xner.data import load_split, tag_names
from xner.modeling import TrainConfig, train_ner
from xner.modeling.crf import train_crf
from xner.utils import cap

SECTION = "## Fine-tuning recipe"
PAIRS = [("id", "ms"), ("ar", "fa"), ("en", "sw")]
BASE = dict(
    model="e5-small",
    head="crf",
    freeze_embeddings=True,
    early_stopping_patience=None,
    progress=False,
    save_checkpoint=False,
    seed=0,
)
# name → TrainConfig fields (on top of BASE)
RECIPES: dict[str, dict[str, Any]] = {
    "old: lr 1e-4, 2 ep, bs 16 (fp32)": dict(learning_rate=1e-4, epochs=2, batch_size=16),
    "old: lr 1e-4, 2 ep, bs 16 (bf16)": dict(learning_rate=1e-4, epochs=2, batch_size=16, bf16=True),
    "lr 3e-4, 3 ep, bs 16": dict(learning_rate=3e-4, epochs=3, batch_size=16, bf16=True),
    "lr 3e-4, 3 ep, bs 16, freeze 6": dict(learning_rate=3e-4, epochs=3, batch_size=16, bf16=True, freeze_layers=6),
    "lr 5e-4, 3 ep, bs 32, freeze 6": dict(learning_rate=5e-4, epochs=3, batch_size=32, bf16=True, freeze_layers=6),
    "lr 5e-4, 4 ep, bs 32, freeze 4": dict(learning_rate=5e-4, epochs=4, batch_size=32, bf16=True, freeze_layers=4),
    "lr 5e-4, 6 ep, bs 32, freeze 6": dict(learning_rate=5e-4, epochs=6, batch_size=32, bf16=True, freeze_layers=6),
    "lr 5e-4, 6 ep, bs 32, freeze 4": dict(learning_rate=5e-4, epochs=6, batch_size=32, bf16=True, freeze_layers=4),
    "lr 5e-4, 10 ep, bs 32, freeze 6": dict(learning_rate=5e-4, epochs=10, batch_size=32, bf16=True, freeze_layers=6),
}


CRF = "feature CRF (reference)"


def run_crf(src: str, tgt: str, setting: str, train, dev) -> pd.DataFrame:
    """The feature CRF on the same training and dev sentences: the line e5-small has to clear (one 'epoch')."""
    t0, c0 = time.perf_counter(), time.process_time()
    tagger = train_crf(train)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    f1 = metrics.score(tag_names(dev), tagger.predict([list(t) for t in dev["tokens"]])).f1
    return pd.DataFrame(
        [
            dict(epoch=1, train_loss=float("nan"), train_seconds=secs, cum_train_seconds=secs, cum_cpu_seconds=cpu)
            | dict(train_tokens_per_s=float("nan"), dev_f1=f1, dev_sentences_per_s=float("nan"), recipe=CRF)
            | dict(pair=f"{src}-{tgt}", setting=setting, epochs=1, load1=os.getloadavg()[0])
        ]
    )


def run_one(recipe: str, src: str, tgt: str, setting: str, args: argparse.Namespace) -> pd.DataFrame:
    """Train one recipe for one pair and setting; its per-epoch dev curve."""
    train_lang = tgt if setting == "native" else src
    train = cap(load_split(train_lang, "train", hub=False), args.train)
    dev = cap(load_split(tgt, "dev", hub=False), args.dev)
    if recipe == CRF:
        return run_crf(src, tgt, setting, train, dev)
    cfg = TrainConfig(**{**BASE, "num_threads": args.threads, **RECIPES[recipe]})
    res = train_ner(train, dev, cfg)
    h = res.history.copy()
    h["cum_train_seconds"] = h["train_seconds"].cumsum()
    h["cum_cpu_seconds"] = h["train_cpu_seconds"].cumsum()
    cols = ["epoch", "train_loss", "train_seconds", "cum_train_seconds", "cum_cpu_seconds", "train_tokens_per_s"]
    h = h[[*cols, "dev_f1", "dev_sentences_per_s"]]
    return h.assign(recipe=recipe, pair=f"{src}-{tgt}", setting=setting, epochs=cfg.epochs, load1=os.getloadavg()[0])


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per recipe: last-epoch dev F1 per pair/setting, their mean, and the median training seconds per model."""
    last = df[df["epoch"] == df["epochs"]]
    wide = last.pivot_table(index="recipe", columns=["pair", "setting"], values="dev_f1")
    wide.columns = [f"{p} {s}" for p, s in wide.columns]
    out = wide.assign(
        mean_dev_f1=wide.mean(axis=1),
        runs=last.groupby("recipe").size(),
        median_train_s=last.groupby("recipe")["cum_train_seconds"].median(),
        median_cpu_s=last.groupby("recipe")["cum_cpu_seconds"].median(),
    )
    return out.sort_values("median_train_s").reset_index()


def markdown(summary: pd.DataFrame, df: pd.DataFrame, args: argparse.Namespace) -> str:
    """The RESULTS.md section (the choice and its reasons are written by hand below the generated tables)."""
    cols = [c for c in summary.columns if c not in ("recipe", "mean_dev_f1", "runs", "median_train_s", "median_cpu_s")]
    lines = [
        SECTION,
        "",
        f"Command: `PYTHONPATH=src .venv/bin/python bench/bench_finetune_recipe.py --train {args.train} --dev "
        f"{args.dev} --threads {args.threads} --write` (e5-small, CRF head, frozen word embeddings, linear warm-up "
        "10 % then linear decay, bf16 encoder, seed 0; strict F1 on the first "
        f"{args.dev} sentences of the target's dev split; load average during the runs "
        f"{df['load1'].min():.1f}–{df['load1'].max():.1f} on 2 cores).",
        "",
        "| recipe | " + " | ".join(cols) + " | mean dev F1 (runs) | median train s / model | median train CPU s |",
        "|---|" + "---:|" * (len(cols) + 3),
    ]
    for d in summary.to_dict("records"):
        vals = " | ".join("–" if pd.isna(v) else f"{v:.3f}" for v in (d[c] for c in cols))
        lines.append(
            f"| {d['recipe']} | {vals} | {d['mean_dev_f1']:.3f} ({d['runs']}) | {d['median_train_s']:.0f} | "
            f"{d['median_cpu_s']:.0f} |"
        )
    curve = df.groupby(["recipe", "epoch"]).agg(f1=("dev_f1", "mean"), s=("cum_cpu_seconds", "median"))
    lines += [
        "",
        "F1-versus-seconds curve (mean dev F1 over the runs after each epoch of the schedule; median "
        "cumulative training CPU seconds):",
        "",
        "| recipe | epoch | mean dev F1 | cumulative CPU s |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {rec} | {ep} | {v.f1:.3f} | {v.s:.0f} |" for (rec, ep), v in curve.iterrows()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--dev", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recipes", default=None, help="';'-separated recipe names (default: all)")
    ap.add_argument("--pairs", default=None, help="comma-separated src-tgt (default: id-ms,ar-fa,en-sw)")
    ap.add_argument("--settings", default="native,zero-shot")
    ap.add_argument("--csv", default="results/bench/finetune_recipe.csv")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--summarise-only", action="store_true")
    args = ap.parse_args(argv)
    path = Path(args.csv)
    done = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    recipes = args.recipes.split(";") if args.recipes else [*RECIPES, CRF]
    pairs = [tuple(p.split("-")) for p in args.pairs.split(",")] if args.pairs else PAIRS
    for recipe in [] if args.summarise_only else recipes:
        for src, tgt in pairs:
            for setting in args.settings.split(","):
                key = (recipe, f"{src}-{tgt}", setting)
                if (
                    len(done)
                    and ((done["recipe"] == key[0]) & (done["pair"] == key[1]) & (done["setting"] == key[2])).any()
                ):
                    continue
                h = run_one(recipe, src, tgt, setting, args)
                print(h.to_string(), file=sys.stderr, flush=True)
                done = pd.concat([done, h], ignore_index=True)
                path.parent.mkdir(parents=True, exist_ok=True)
                done.to_csv(path, index=False, lineterminator="\n")
    summary = summarise(done)
    text = markdown(summary, done, args)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
