"""Issue 4 ablation: how much does masked-LM pretraining on the local text help the mini encoder?

Run (updates the "Mini encoder: pretraining ablation" section of bench/RESULTS.md):

    XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_mini_pretraining.py --write

Native ms (full WikiANN train split, full test split) with mini-tiny pretrained for 0 (random initialisation), 10,
20 (the size's default) and 30 epochs on the unlabelled id+ms train text, fine-tuned with the recipe of
bench_training.py (CRF output layer, lr 1e-3, ≤ 12 epochs, patience 3), plus the default pretraining with a softmax
head; the feature CRF beside them. Also the share of ms test entity mentions seen as entities in ms train
(``xner.inspection.pair_overlap``), which the CRF's word-identity features can memorise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner import config
from xner.data import load_split
from xner.inspection import pair_overlap
from xner.modeling import CRFConfig, TrainConfig
from xner.modeling.encoders import resolve_encoder
from xner.modeling.encoders.mini import MiniConfig
from xner.modeling.transfer import run_setting, spec_for
from xner.signature import signature, write_table

SECTION = "## Mini encoder: pretraining ablation"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pretrain-epochs", type=int, nargs="+", default=[0, 10, 20, 30])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=config.results_dir() / "bench")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    cmd = (
        "XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_mini_pretraining.py " + " ".join(sys.argv[1:])
    ).strip()
    spec = spec_for("native", "ms", "ms")
    runs = [(e, "crf") for e in args.pretrain_epochs] + [(20, "softmax")]
    rows = []
    for epochs, head in runs:
        enc = resolve_encoder(
            "mini-tiny",
            languages=["id", "ms"],
            seed=0,
            mini_config=MiniConfig(size="tiny", epochs=epochs, num_threads=args.threads, progress=False),
        )
        cfg = TrainConfig(
            model="mini-tiny",
            learning_rate=1e-3,
            epochs=12,
            batch_size=32,
            head=head,
            early_stopping_patience=3,
            seed=0,
            num_threads=args.threads,
            progress=False,
        )
        r = run_setting(spec, "mini-tiny", train_config=cfg, encoder=enc, n_resamples=1000).rows.iloc[0]
        rows.append(
            {
                "model": f"mini-tiny, {epochs} MLM epochs, {head} head",
                "f1": r.f1,
                "f1_low": r.f1_low,
                "f1_high": r.f1_high,
            }
        )
        print(rows[-1], flush=True)
    r = run_setting(spec, "crf", crf_config=CRFConfig(), n_resamples=1000).rows.iloc[0]
    rows.append({"model": "feature CRF", "f1": r.f1, "f1_low": r.f1_low, "f1_high": r.f1_high})
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(
        table,
        args.out / "mini_pretraining.csv",
        signature(
            data="wikiann",
            split="test",
            languages=["ms"],
            model="mini-tiny",
            seed=0,
            mode="strict",
            stage="bench_mini_pretraining",
        ),
    )
    cover = pair_overlap(load_split("ms", "train"), load_split("ms", "test"), "ms", "ms")["entity_coverage"]
    lines = [
        SECTION,
        "",
        f"Issue 4. Command: `{cmd}`",
        "",
        "Native ms, full WikiANN train (5,000 sentences) and test splits, strict F1 with 95 % bootstrap CIs; "
        "mini-tiny pretrained on the unlabelled id+ms train text, fine-tuned with lr 1e-3, ≤ 12 epochs "
        "(patience 3), seed 0.",
        "",
        "| model | strict F1 [95 % CI] |",
        "|---|---|",
    ]
    lines += [f"| {r.model} | {r.f1:.3f} [{r.f1_low:.3f}, {r.f1_high:.3f}] |" for r in table.itertuples()]
    lines += [
        "",
        f"Share of ms test entity mentions that occur as entities in ms train: {100 * cover:.0f} % — what "
        "the CRF's word-identity features can memorise.",
        "",
    ]
    md = "\n".join(lines)
    print(md)
    if args.write:
        write_section(md)


if __name__ == "__main__":
    main()
