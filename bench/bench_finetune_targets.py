"""Issue 14's targets on the test splits: the old and the new offline e5-small recipe beside published transfer.

Run (updates the "Fine-tuning targets" section of bench/RESULTS.md; resumable, finished runs are kept in the CSV):

    XNER_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python \\
        bench/bench_finetune_targets.py --write

Zero-shot on the four WikiANN pairs with published numbers (id→ms, ar→fa, ar→hi, nl→af; Manafi & Krishnaswamy
2024, mBERT / XLM-R base trained on 20k source sentences on a GPU): e5-small trained with the old recipe (the
offline default before issue 14) and the new one (chosen on dev splits, "Fine-tuning recipe"), with the main job's
caps (1,000 training sentences, 200 source-dev sentences for early stopping, the first 500 test sentences), seed 0,
strict F1 with 95 % bootstrap CIs (1,000 resamples). ``--crf`` adds the feature CRF on the same data.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)
from bench_finetune_recipe import RECIPES  # noqa: E402

from xner.modeling import TrainConfig
from xner.modeling.transfer import run_setting, spec_for

SECTION = "## Fine-tuning targets"
PAIRS = [("id", "ms"), ("ar", "fa"), ("ar", "hi"), ("nl", "af")]
PUBLISHED = {"id-ms": (0.687, 0.697), "ar-fa": (0.450, 0.436), "ar-hi": (0.672, 0.673), "nl-af": (0.812, 0.799)}
OLD = "old: lr 1e-4, 2 ep, bs 16 (fp32)"


def run_one(recipe: str, src: str, tgt: str, setting: str, args: argparse.Namespace) -> pd.DataFrame:
    """One trained model (or the CRF) evaluated on the target's test split."""
    caps = dict(max_train_samples=args.train, max_eval_samples=args.dev, max_predict_samples=args.test)
    spec = spec_for(setting, src, tgt)
    if recipe == "crf":
        res = run_setting(spec, "crf", train_config=TrainConfig(seed=0, **caps), n_resamples=args.resamples)
    else:
        cfg = TrainConfig(
            model="e5-small",
            head="crf",
            freeze_embeddings=True,
            progress=False,
            save_checkpoint=False,
            seed=0,
            num_threads=args.threads,
            **caps,
            **RECIPES[recipe],
        )
        res = run_setting(spec, "e5-small", train_config=cfg, n_resamples=args.resamples)
    rows = res.rows[res.rows["eval_lang"] == tgt].copy()
    return rows.assign(recipe=recipe, pair=f"{src}-{tgt}", train_seconds=res.stats["train_seconds"])


def markdown(df: pd.DataFrame, args: argparse.Namespace, new: str) -> str:
    """The RESULTS.md section."""
    extra = "".join(
        f" --{name} {value!r}" if " " in str(value) else f" --{name} {value}"
        for name, value, default in (
            ("train", args.train, 1000),
            ("settings", args.settings, "zero-shot"),
            ("pairs", args.pairs, None),
            ("recipes", args.recipes, None),
            ("csv", args.csv, "results/bench/finetune_targets.csv"),
            ("section", args.section, SECTION),
        )
        if value != default
    )
    lines = [
        args.section,
        "",
        f"Command: `PYTHONPATH=src .venv/bin/python bench/bench_finetune_targets.py --new '{new}' --threads "
        f"{args.threads}{' --crf' if args.crf else ''}{extra} --write` (seed 0; {args.train} training sentences, "
        f"{args.dev} dev sentences for early stopping, the first {args.test} test sentences; strict F1 [95 % CI]; "
        "load average "
        f"{os.getloadavg()[0]:.1f} at the end on 2 cores).",
        "",
        "| pair | setting | recipe | strict F1 [95 % CI] | train s | published mBERT / XLM-R base (zero-shot) |",
        "|---|---|---|---|---:|---|",
    ]
    for r in df.sort_values(["pair", "setting", "recipe"]).itertuples():
        pub = PUBLISHED.get(r.pair) if r.setting == "zero-shot" else None
        pub_s = f"{pub[0]:.3f} / {pub[1]:.3f}" if pub else ""
        lines.append(
            f"| {r.pair} | {r.setting} | {r.recipe} | {r.f1:.3f} [{r.f1_low:.3f}, {r.f1_high:.3f}] | "
            f"{r.train_seconds:.0f} | {pub_s} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--new", required=True, help="the new recipe's name in bench_finetune_recipe.RECIPES")
    ap.add_argument("--recipes", default=None, help="';'-separated (default: the old and the new)")
    ap.add_argument("--settings", default="zero-shot")
    ap.add_argument("--pairs", default=None)
    ap.add_argument("--crf", action="store_true")
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--dev", type=int, default=200)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--csv", default="results/bench/finetune_targets.csv")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--summarise-only", action="store_true")
    ap.add_argument("--section", default=SECTION, help="the RESULTS.md heading to write (one per table)")
    args = ap.parse_args(argv)
    path = Path(args.csv)
    done = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    recipes = args.recipes.split(";") if args.recipes else [OLD, args.new] + (["crf"] if args.crf else [])
    pairs = [tuple(p.split("-")) for p in args.pairs.split(",")] if args.pairs else PAIRS
    for recipe in [] if args.summarise_only else recipes:
        for src, tgt in pairs:
            for setting in args.settings.split(","):
                pair = f"{src}-{tgt}"
                if (
                    len(done)
                    and ((done["recipe"] == recipe) & (done["pair"] == pair) & (done["setting"] == setting)).any()
                ):
                    continue
                rows = run_one(recipe, src, tgt, setting, args)
                print(rows.to_string(), file=sys.stderr, flush=True)
                done = pd.concat([done, rows], ignore_index=True)
                path.parent.mkdir(parents=True, exist_ok=True)
                done.to_csv(path, index=False, lineterminator="\n")
    text = markdown(done, args, args.new)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
