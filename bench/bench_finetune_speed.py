"""Fine-tuning speed of e5-small on 2 CPU cores: where a step spends its time, and which changes pay.

Run (updates the "Fine-tuning speed" section of bench/RESULTS.md):

    XNER_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python \\
        bench/bench_finetune_speed.py --rounds 3 --write

Part 1, profile: one training step split into collation (``pad_batch``), encoder forward, CRF head (gathering
word emissions + negative log-likelihood), backward and optimizer (clipping + AdamW + schedule), in float32 and
with the encoder under bf16 autocast, rounds interleaved; also the cost of one dev evaluation (200 sentences) and
of tokenising the training sentences once, against one training epoch.

Part 2, throughput: training tokens per second of the real loop (``train_ner``, one epoch on the first
``--sentences`` training sentences, no dev) for each variant, run interleaved (A, B, C, …, A, B, C, …) so that the
load of a shared machine hits them alike; the median over ``--rounds`` rounds and the ratio to the baseline (the
offline default before issue 14: float32, frozen word embeddings, batch 16, CRF head, length-grouped batches).

Part 3 (``--compile``): ``torch.compile`` of the encoder, compile time and steady-state step time against eager.

Tables go to ``results/bench/finetune_profile.csv`` and ``results/bench/finetune_speed.csv`` with signatures.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner.data import label_set_of, load_split
from xner.modeling import NERModel, TrainConfig, train_ner
from xner.modeling.crf_head import CRFHead, word_emissions
from xner.modeling.encoders import resolve_encoder
from xner.modeling.loop import length_grouped_batches, make_optimizer
from xner.modeling.predict import load_tokenizer, pad_batch, pad_id_of, token_logits
from xner.modeling.train import freeze, load_token_classifier
from xner.signature import signature, write_table
from xner.utils import set_seed

SECTION = "## Fine-tuning speed"
COMPILE_SECTION = "## Fine-tuning speed: torch.compile"
BASE = dict(
    model="e5-small",
    freeze_embeddings=True,
    learning_rate=1e-4,
    batch_size=16,
    epochs=1,
    head="crf",
    early_stopping_patience=None,
    progress=False,
    save_checkpoint=False,
)
# name → TrainConfig changes against BASE (the first is the baseline of the ratios)
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline (fp32 grouped)": {},
    "bf16 encoder": {"bf16": True},
    "bf16 ungrouped batches": {"bf16": True, "group_by_length": False},
    "bf16 + 1 thread": {"bf16": True, "num_threads": 1},
    "bf16 + 2 threads": {"bf16": True, "num_threads": 2},
    "bf16 + freeze 6 layers": {"bf16": True, "freeze_layers": 6},
    "bf16 + freeze 6 + batch 32": {"bf16": True, "freeze_layers": 6, "batch_size": 32},
}


def machine() -> str:
    """CPU model, cores this process may use, torch version and the 1/5/15-minute load average."""
    cpu = "unknown CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores usable, torch {torch.__version__}; load average {load}"


def profile(args: argparse.Namespace, train: Any, dev: Any) -> pd.DataFrame:
    """Part 1: seconds per step component (median over batches and rounds), float32 vs bf16 encoder."""
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    encoder = resolve_encoder("e5-small")
    labels = list(label_set_of(train).labels)
    tok = load_tokenizer(encoder)
    set_seed(0)
    model = load_token_classifier(encoder, labels)
    freeze(model, True)
    crf = CRFHead(labels)
    pred = NERModel(model, tok, labels, num_threads=args.threads, decode="crf", crf=crf)
    tokens = [list(t) for t in train["tokens"]]
    t0 = time.perf_counter()
    feats, _ = pred.encoder.encode(tokens, train["ner_tags"])
    encode_s = time.perf_counter() - t0
    cfg = TrainConfig(**{**BASE, "epochs": 1})
    optim = make_optimizer(model, cfg, [crf])
    rng = __import__("numpy").random.default_rng(0)
    batches = length_grouped_batches([len(f) for f in feats], 16, rng, True)[: args.profile_batches]
    pad = pad_id_of(tok)
    rows = []
    for rnd in range(args.rounds):
        for bf16 in (False, True):
            model.train()
            for k, idx in enumerate(batches):
                fb = [feats[i] for i in idx]
                t = [time.perf_counter()]
                batch = pad_batch(fb, pad)
                t.append(time.perf_counter())
                logits = token_logits(model, batch["input_ids"], batch["attention_mask"], bf16=bf16)
                t.append(time.perf_counter())
                em, tags, mask = word_emissions(logits, batch["labels"])
                loss = crf.nll(em, tags, mask) / mask.sum()
                t.append(time.perf_counter())
                loss.backward()
                t.append(time.perf_counter())
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
                optim.step()
                optim.zero_grad(set_to_none=True)
                t.append(time.perf_counter())
                parts = ("collate", "encoder forward", "CRF head", "backward", "optimizer")
                for name, a, b in zip(parts, t, t[1:], strict=False):
                    if k == 0:  # the first step of each block warms up allocations: not counted
                        continue
                    rows.append({"round": rnd, "bf16": bf16, "part": name, "seconds": b - a})
            dev_tokens = [list(x) for x in dev["tokens"]]
            pred.bf16 = bf16
            t1 = time.perf_counter()
            pred.predict(dev_tokens)
            rows.append(
                {"round": rnd, "bf16": bf16, "part": "dev evaluation (whole)", "seconds": time.perf_counter() - t1}
            )
            pred.bf16 = False
    df = pd.DataFrame(rows)
    steps = df[df["part"] != "dev evaluation (whole)"]
    per_step = steps.groupby(["bf16", "part"])["seconds"].median().unstack(0)
    ev = df[df["part"] == "dev evaluation (whole)"].groupby("bf16")["seconds"].median()
    per_step.loc["dev evaluation (whole)"] = ev
    per_step.loc["tokenise train once (whole)"] = [encode_s, encode_s]
    out = per_step.reset_index().rename(columns={False: "fp32_s", True: "bf16_s"})
    n_steps = -(-len(feats) // 16)
    step_fp32 = per_step.loc[list(steps["part"].unique()), False].sum()
    step_bf16 = per_step.loc[list(steps["part"].unique()), True].sum()
    out.attrs.update(
        step_fp32=step_fp32,
        step_bf16=step_bf16,
        epoch_fp32=step_fp32 * n_steps,
        epoch_bf16=step_bf16 * n_steps,
        n_steps=n_steps,
        n_dev=len(dev),
    )
    return out


def throughput(args: argparse.Namespace, train: Any, names: list[str]) -> pd.DataFrame:
    """Part 2: training tokens/s of ``train_ner`` per variant, interleaved rounds."""
    rows = []
    for rnd in range(args.rounds):
        for name in names:
            cfg = TrainConfig(**{**BASE, "num_threads": args.threads, **VARIANTS[name]})
            res = train_ner(train, None, cfg)
            h = res.history.iloc[0]
            rows.append(
                {
                    "round": rnd,
                    "variant": name,
                    "tokens_per_s": float(h["train_tokens_per_s"]),
                    "train_seconds": float(h["train_seconds"]),
                    "cpu_ms_per_token": 1000
                    * float(h["train_cpu_seconds"])
                    / (float(h["train_tokens_per_s"]) * float(h["train_seconds"])),
                    "train_loss": float(h["train_loss"]),
                    "load1": os.getloadavg()[0],
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return summarise(rows, names)


def summarise(rows: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    """Median per variant over the rounds, and the ratio of tokens/s to the first variant's."""
    df = pd.DataFrame(rows)
    med = df.groupby("variant", sort=False).agg(
        tokens_per_s=("tokens_per_s", "median"),
        train_seconds=("train_seconds", "median"),
        cpu_ms_per_token=("cpu_ms_per_token", "median"),
        train_loss=("train_loss", "median"),
        runs=("round", "size"),
    )
    med["ratio"] = med["tokens_per_s"] / med.loc[names[0], "tokens_per_s"]
    return med.reset_index()


def compile_check(args: argparse.Namespace, train: Any) -> dict[str, float]:
    """Part 3: eager vs ``torch.compile`` (dynamic shapes) of the encoder, bf16, on the same batches."""
    torch.set_num_threads(args.threads)
    encoder = resolve_encoder("e5-small")
    labels = list(label_set_of(train).labels)
    tok = load_tokenizer(encoder)
    pred_feats = NERModel(load_token_classifier(encoder, labels), tok, labels).encoder.encode(
        [list(t) for t in train["tokens"]], train["ner_tags"]
    )[0]
    batches = length_grouped_batches([len(f) for f in pred_feats], 16, __import__("numpy").random.default_rng(0), True)
    batches = batches[: args.profile_batches]
    out = {}
    for mode in ("eager", "compiled"):
        set_seed(0)
        model = load_token_classifier(encoder, labels)
        freeze(model, True)
        if mode == "compiled":
            model.bert = torch.compile(model.bert, dynamic=True)
        optim = make_optimizer(model, TrainConfig(**BASE), [])
        times = []
        for idx in batches:
            t = time.perf_counter()
            batch = pad_batch([pred_feats[i] for i in idx], pad_id_of(tok))
            logits = token_logits(model, batch["input_ids"], batch["attention_mask"], bf16=True)
            torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten()).backward()
            optim.step()
            optim.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t)
        out[f"{mode}_first_step_s"] = times[0]
        out[f"{mode}_median_later_step_s"] = statistics.median(times[3:])
        out[f"{mode}_total_s"] = sum(times)
    return out


def markdown(prof: pd.DataFrame | None, speed: pd.DataFrame | None, comp: dict | None, args, env: str) -> str:
    """The RESULTS.md section."""
    lines = [
        SECTION,
        "",
        f"Machine: {env}.",
        f"Command: `PYTHONPATH=src .venv/bin/python bench/bench_finetune_speed.py --rounds {args.rounds} "
        f"--sentences {args.sentences} --threads {args.threads}{' --compile' if args.compile else ''} --write` "
        + ("(rows of that run's log summarised with `--rows-from`, the run being cut short) " if args.rows_from else "")
        + f"(e5-small, WikiANN {args.lang} train, CRF head, seed 0; variants interleaved in one run, medians of "
        f"{args.rounds} rounds; the machine is shared, so absolute numbers move with its load, ratios much less).",
        "",
    ]
    if prof is not None:
        a = prof.attrs
        lines += [
            f"### Where a step goes (batch 16, median over {args.profile_batches} batches × {args.rounds} rounds)",
            "",
            "| part | fp32 s | bf16-encoder s |",
            "|---|---:|---:|",
        ]
        lines += [f"| {r.part} | {r.fp32_s:.3f} | {r.bf16_s:.3f} |" for r in prof.itertuples()]
        lines += [
            "",
            f"A step: {a['step_fp32']:.3f} s fp32, {a['step_bf16']:.3f} s bf16; one epoch of {a['n_steps']} steps "
            f"≈ {a['epoch_fp32']:.0f} s fp32 / {a['epoch_bf16']:.0f} s bf16, against one dev evaluation "
            f"({a['n_dev']} sentences) in the table.",
            "",
        ]
    if speed is not None:
        lines += [
            f"### Training tokens/s of `train_ner` (one epoch on the first {args.sentences} sentences)",
            "",
            "| variant | tokens/s (median) | epoch s | CPU ms / token | train loss | runs | × baseline (tokens/s) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.variant} | {r.tokens_per_s:.0f} | {r.train_seconds:.1f} | {r.cpu_ms_per_token:.2f} | "
            f"{r.train_loss:.3f} | {r.runs} | "
            f"{r.ratio:.2f} |"
            for r in speed.itertuples()
        ]
        lines.append("")
    if comp:
        lines += [f"### torch.compile (bf16 encoder, {args.profile_batches} steps)", "", *compile_table(comp), ""]
    return "\n".join(lines)


def compile_table(comp: dict) -> list[str]:
    """Eager against compiled: the first step (compilation included), a later step, and all steps."""
    lines = ["| | first step s | median later step s | total s |", "|---|---:|---:|---:|"]
    for mode in ("eager", "compiled"):
        lines.append(
            f"| {mode} | {comp[f'{mode}_first_step_s']:.1f} | {comp[f'{mode}_median_later_step_s']:.3f} | "
            f"{comp[f'{mode}_total_s']:.1f} |"
        )
    return lines


def compile_markdown(comp: dict, args: argparse.Namespace, env: str) -> str:
    """The RESULTS.md section of a run with ``--parts none --compile``: eager against compiled, same batches."""
    lines = [
        COMPILE_SECTION,
        "",
        f"Machine: {env}.",
        f"Command: `PYTHONPATH=src .venv/bin/python bench/bench_finetune_speed.py --parts none --compile "
        f"--profile-batches {args.profile_batches} --threads {args.threads} --write` (e5-small, bf16 encoder, "
        f"batch 16, WikiANN {args.lang} train, the same {args.profile_batches} length-grouped batches for both; "
        "one run).",
        "",
        *compile_table(comp),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", default="ms")
    ap.add_argument("--sentences", type=int, default=320, help="training sentences per throughput run")
    ap.add_argument("--profile-sentences", type=int, default=1000)
    ap.add_argument("--profile-batches", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parts", default="profile,speed", help="comma-separated: profile, speed")
    ap.add_argument("--variants", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--rows-from", default=None, help="summarise the rows an earlier run printed to this log")
    ap.add_argument("--out", default="results/bench")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    env_before = machine()
    train_all = load_split(args.lang, "train", hub=False)
    dev = load_split(args.lang, "dev", hub=False).select(range(200))
    prof = speed = comp = None
    out = Path(args.out)
    if "profile" in parts:
        prof = profile(args, train_all.select(range(args.profile_sentences)), dev)
        write_table(prof, out / "finetune_profile.csv", signature(kind="bench_finetune_speed/profile"))
        attrs = {k: float(v) for k, v in prof.attrs.items()}
        (out / "finetune_profile.attrs.json").write_text(json.dumps({**attrs, "env": machine()}) + "\n")
        print(prof.to_string(), prof.attrs, flush=True)
    elif parts != {"none"} and (out / "finetune_profile.attrs.json").is_file():  # an earlier run's profile
        prof = pd.read_csv(out / "finetune_profile.csv").drop(columns="signature")
        attrs = json.loads((out / "finetune_profile.attrs.json").read_text())
        env_before = f"profile: {attrs.pop('env')}; throughput: {env_before}"
        prof.attrs.update({k: int(v) if k.startswith("n_") else v for k, v in attrs.items()})
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    if args.rows_from:  # the rows printed by an earlier (interrupted) run of the speed part
        lines = Path(args.rows_from).read_text(encoding="utf-8").splitlines()
        rows = [ast.literal_eval(line) for line in lines if line.startswith("{'round'")]
        speed = summarise(rows, [n for n in names if any(r["variant"] == n for r in rows)])
        print(speed.to_string(), flush=True)
    elif "speed" in parts:
        speed = throughput(args, train_all.select(range(args.sentences)), names)
        write_table(speed, out / "finetune_speed.csv", signature(kind="bench_finetune_speed/speed"))
        print(speed.to_string(), flush=True)
    if args.compile:
        comp = compile_check(args, train_all.select(range(args.profile_sentences)))
        print(comp, flush=True)
    env = f"{env_before} at the start, {', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"
    if comp and parts == {"none"}:  # torch.compile alone: its own section, the others stay as they are
        text = compile_markdown(comp, args, env)
    else:
        text = markdown(prof, speed, comp, args, env)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
