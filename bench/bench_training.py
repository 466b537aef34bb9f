"""Stage 04 benchmark: the mini encoder against the feature-CRF baseline on WikiANN, and training speed.

Run (both parts, updates the "Training" section of bench/RESULTS.md):

    XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_training.py --write

Part 1, quality (``--part quality``): strict F1 with 95 % bootstrap CIs on the full WikiANN test splits for
native training on en, ar, fa, ms, af and zero-shot transfer id→ms and nl→af, for the CRF and the mini encoder.
Each mini encoder is pretrained on the unlabelled train text of its pair's two languages (en-sw, ar-fa, id-ms,
nl-af) and cached; the CRF and the mini encoder see exactly the same training, dev and test data.

Part 2, speed (``--part speed``): for one pair (default id-ms), mini-encoder pretraining from scratch (in a fresh
temporary cache) plus native and zero-shot fine-tuning, against a 10-minute target on 2 cores, with training
tokens/s and prediction sentences/s.

Tables go to ``results/bench/training_quality.csv`` and ``results/bench/training_speed.csv`` with signatures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner import config
from xner.modeling import CRFConfig, TrainConfig
from xner.modeling.encoders import resolve_encoder
from xner.modeling.encoders.mini import MiniConfig
from xner.modeling.transfer import run_setting, spec_for
from xner.signature import signature, write_table

SECTION = "## Training"
# (pair whose two languages pretrain the mini encoder, setting, source, target)
JOBS = [
    ("en-sw", "native", "en", "en"),
    ("ar-fa", "native", "ar", "ar"),
    ("ar-fa", "native", "fa", "fa"),
    ("id-ms", "native", "ms", "ms"),
    ("nl-af", "native", "af", "af"),
    ("id-ms", "zero-shot", "id", "ms"),
    ("nl-af", "zero-shot", "nl", "af"),
]


def train_config(args: argparse.Namespace, seed: int) -> TrainConfig:
    """Fine-tuning settings shared by every mini-encoder run of the benchmark."""
    return TrainConfig(
        model=args.model,
        learning_rate=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        head=args.head,
        early_stopping_patience=args.patience,
        seed=seed,
        num_threads=args.threads,
        progress=False,
        max_train_samples=args.max_train_samples,
    )


def mini_config(args: argparse.Namespace) -> MiniConfig | None:
    """Pretraining settings of the mini encoder (size defaults unless overridden)."""
    if not args.model.startswith("mini-"):
        return None
    return MiniConfig(
        size=args.model.split("-", 1)[1], epochs=args.pretrain_epochs, num_threads=args.threads, progress=False
    )


def quality(args: argparse.Namespace) -> pd.DataFrame:
    """Part 1: CRF vs the encoder on the seven comparisons (full test splits, 1,000-resample CIs)."""
    rows = []
    encoders: dict[str, str] = {}
    for pair, setting, source, target in JOBS:
        langs = pair.split("-")
        if pair not in encoders:
            t0 = time.perf_counter()
            encoders[pair] = resolve_encoder(args.model, languages=langs, seed=0, mini_config=mini_config(args))
            print(f"[{pair}] encoder {args.model}: {encoders[pair]} ({time.perf_counter() - t0:.0f} s)", flush=True)
        spec = spec_for(setting, source, target)
        for seed in args.seeds:
            for model in ("crf", args.model):
                t0 = time.perf_counter()
                res = run_setting(
                    spec,
                    model,
                    train_config=train_config(args, seed),
                    encoder=encoders.get(pair) if model != "crf" else None,
                    crf_config=CRFConfig(),
                    n_resamples=1000,
                )
                r = res.rows[res.rows.eval_lang == target].copy()
                r["encoder_languages"] = "+".join(langs) if model != "crf" else ""
                r["train_seconds"] = res.stats["train_seconds"]
                rows.append(r)
                f = r.iloc[0]
                print(
                    f"{setting:9s} {source}->{target} {model:10s} seed {seed}: F1 {f.f1:.4f} "
                    f"[{f.f1_low:.4f}, {f.f1_high:.4f}] ({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    table = pd.concat(rows, ignore_index=True)
    sig = signature(
        data="wikiann",
        split="test",
        languages=sorted({j[2] for j in JOBS} | {j[3] for j in JOBS}),
        model=[args.model, "crf"],
        seed=args.seeds,
        mode="strict",
        stage="bench_training",
        train_config=vars(args),
    )
    write_table(table, args.out / "training_quality.csv", sig)
    return table


def speed(args: argparse.Namespace) -> dict[str, float]:
    """Part 2: pretraining from scratch plus native and zero-shot fine-tuning for one pair, timed."""
    src, tgt = args.speed_pair.split("-")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        old = os.environ.get("XNER_CACHE_DIR")
        os.environ["XNER_CACHE_DIR"] = cache
        try:
            t0 = time.perf_counter()
            enc = resolve_encoder(args.model, languages=[src, tgt], seed=0, mini_config=mini_config(args))
            out["pretrain_s"] = time.perf_counter() - t0
            meta_path = Path(enc) / "mini_encoder.json"
            if meta_path.is_file():
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                out["pretrain_tokens_per_s"] = meta["pretrain_tokens_per_s"] or float("nan")
                out["pretrain_epochs"] = len(meta["history"])
                out["parameters"] = meta["parameters"]
            for setting, source in (("native", tgt), ("zero-shot", src)):
                t0 = time.perf_counter()
                res = run_setting(
                    spec_for(setting, source, tgt),
                    args.model,
                    train_config=train_config(args, 0),
                    encoder=enc,
                    n_resamples=1000,
                )
                out[f"{setting}_total_s"] = time.perf_counter() - t0
                out[f"{setting}_train_tokens_per_s"] = float(res.history["train_tokens_per_s"].median())
                out[f"{setting}_epochs"] = len(res.history)
                tokens = [list(t) for e in res.data.evals for t in e.data["tokens"]]
                t1 = time.perf_counter()
                res.predictor.predict(tokens)
                dt = time.perf_counter() - t1
                out[f"{setting}_predict_sentences_per_s"] = len(tokens) / dt
                out[f"{setting}_f1"] = float(res.rows.iloc[0].f1)
        finally:
            if old is None:
                os.environ.pop("XNER_CACHE_DIR", None)
            else:
                os.environ["XNER_CACHE_DIR"] = old
    out["total_s"] = out["pretrain_s"] + out["native_total_s"] + out["zero-shot_total_s"]
    sig = signature(
        data="wikiann",
        split="test",
        languages=[src, tgt],
        model=args.model,
        seed=0,
        mode="strict",
        stage="bench_training_speed",
        train_config=vars(args),
    )
    write_table(pd.DataFrame([out]), args.out / "training_speed.csv", sig)
    return out


def _describe(model: str) -> str:
    """A short description of a mini encoder size (layers, width, pretraining epochs)."""
    from xner.modeling.encoders.mini import SIZES

    if not model.startswith("mini-") or model[5:] not in SIZES:
        return "pretrained checkpoint"
    z = SIZES[model[5:]]
    return f"{z.layers} layers, {z.hidden} wide, {z.epochs} MLM epochs by default"


def quality_markdown(table: pd.DataFrame) -> list[str]:
    """The comparison table as Markdown: CRF and encoder side by side, the better one in bold."""
    lines = [
        "| setting | source → target | CRF strict F1 [95 % CI] | {} strict F1 [95 % CI] | better |".format(
            table.loc[table.model != "crf", "model"].iloc[0]
        ),
        "|---|---|---|---|---|",
    ]
    for (setting, source, target), grp in table.groupby(["setting", "source", "target"], sort=False):
        crf = grp[grp.model == "crf"]
        enc = grp[grp.model != "crf"]
        c, e = crf.f1.mean(), enc.f1.mean()

        def fmt(g: pd.DataFrame) -> str:
            if len(g) == 1:
                r = g.iloc[0]
                return f"{r.f1:.3f} [{r.f1_low:.3f}, {r.f1_high:.3f}]"
            cis = ", ".join(f"[{a:.3f}, {b:.3f}]" for a, b in zip(g.f1_low, g.f1_high, strict=True))
            return f"{g.f1.mean():.3f} (mean of {len(g)} seeds; CIs {cis})"

        lines.append(f"| {setting} | {source} → {target} | {fmt(crf)} | {fmt(enc)} | {'encoder' if e > c else 'CRF'} |")
    enc_rows = table[table.model != "crf"].groupby(["setting", "source", "target"], sort=False)
    crf_rows = table[table.model == "crf"].groupby(["setting", "source", "target"], sort=False)
    wins = sum(enc_rows.f1.mean()[k] > crf_rows.f1.mean()[k] for k in enc_rows.groups)
    apart = sum(
        enc_rows.f1_low.min()[k] > crf_rows.f1_high.max()[k] or crf_rows.f1_low.min()[k] > enc_rows.f1_high.max()[k]
        for k in enc_rows.groups
    )
    lines += [
        "",
        f"The encoder has the higher strict F1 in {wins} of {len(enc_rows.groups)} comparisons; the two 95 % CIs "
        f"are disjoint in {apart} of them.",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--part",
        choices=["quality", "speed", "both", "none"],
        default="both",
        help="what to run; 'none' only assembles the Markdown of earlier runs (with --write)",
    )
    ap.add_argument("--model", default="mini-tiny", help="encoder compared with the CRF")
    ap.add_argument("--pretrain-epochs", type=int, default=None, help="mini pretraining epochs (default: the size's)")
    ap.add_argument("--epochs", type=int, default=12, help="fine-tuning epochs (early stopping on dev F1)")
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--head", choices=["crf", "softmax"], default="crf", help="output layer of the encoder")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-train-samples", type=int, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--speed-pair", default="id-ms")
    ap.add_argument("--out", type=Path, default=config.results_dir() / "bench")
    ap.add_argument("--write", action="store_true", help="update the Training section of bench/RESULTS.md")
    args = ap.parse_args()
    cmd = "XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_training.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part in ("quality", "both"):
        table = quality(args)
        text = ["Command: `" + cmd.strip() + "`", ""]
        text += [
            "Strict span F1 on the full WikiANN test splits, 95 % percentile-bootstrap CIs (1,000 resamples over "
            "sentences). Training on the full train split (5,000 sentences), early stopping on the dev split "
            "of the training language(s). The mini encoder of each row is pretrained only on the unlabelled "
            "train text of its pair (en-sw, ar-fa, id-ms, nl-af). "
            f"Encoder {args.model} ({_describe(args.model)}), {args.head} output layer, learning rate {args.lr}, "
            f"at most {args.epochs} epochs (patience {args.patience}), seeds {args.seeds}; the CRF uses the "
            "default CRFConfig.",
            "",
        ]
        text += quality_markdown(table) + [""]
        (args.out / "training_quality.md").write_text("\n".join(text), encoding="utf-8")
    if args.part in ("speed", "both"):
        s = speed(args)
        text = ["Command: `" + cmd.strip() + "`", ""]
        text += [
            f"Speed, pair {args.speed_pair}, {args.model} (pretraining from scratch in an empty cache):",
            "",
            "| what | value |",
            "|---|---|",
            f"| pretraining ({s.get('pretrain_epochs', 0):.0f} epochs, "
            f"{s.get('parameters', 0) / 1e6:.1f} M encoder parameters) | "
            f"{s['pretrain_s']:.0f} s ({s.get('pretrain_tokens_per_s', float('nan')):,.0f} tokens/s) |",
            f"| native fine-tuning + evaluation ({s['native_epochs']:.0f} epochs) | "
            f"{s['native_total_s']:.0f} s "
            f"({s['native_train_tokens_per_s']:,.0f} training tokens/s) |",
            f"| zero-shot fine-tuning + evaluation ({s['zero-shot_epochs']:.0f} epochs) | "
            f"{s['zero-shot_total_s']:.0f} s "
            f"({s['zero-shot_train_tokens_per_s']:,.0f} training tokens/s) |",
            f"| prediction | {s['native_predict_sentences_per_s']:,.0f} sentences/s |",
            f"| **total** (target < 600 s on 2 cores) | **{s['total_s']:.0f} s** |",
            "",
        ]
        (args.out / "training_speed.md").write_text("\n".join(text), encoding="utf-8")
    parts = [args.out / f"training_{p}.md" for p in ("quality", "speed")]
    md = "\n".join(
        [SECTION, "", "Issue 4 (stage 04).", ""] + [p.read_text(encoding="utf-8") for p in parts if p.is_file()]
    )
    print(md)
    if args.write:
        write_section(md)


if __name__ == "__main__":
    main()
