"""Projection on Europarl en→es: strict span F1 of every method with every offline aligner, and throughput.

Writes ``results/projection/europarl_en-es.csv`` (with its signature) and, with ``--write``, the section
"Projection on Europarl en→es" of bench/RESULTS.md.

    XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_projection.py --repeats 3 --write

Offline aligners: eflomal on the 799 sentence pairs alone; eflomal fitted also on Apertium translations of
both sides (the English side into Spanish and the Spanish side into English: machine-made parallel text,
no labels); the SimAlign-style embedding aligner over the converted multilingual-e5-small (layer 8, IterMax,
SimAlign's defaults for mBERT, not tuned). Model candidates come from a CRF trained on CoNLL-2002 Spanish
train. Settings marked "tuned on dev half" were chosen on sentences 0-399 only; F1 on the held-out half
(400-798) is reported beside F1 on all 799.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner.config import results_dir
from xner.data import load_split
from xner.metrics import score
from xner.projection.align import StringAligner, e5_aligner
from xner.projection.evaluate import build_aligner, evaluate_methods, load_europarl
from xner.projection.project import ProjectionConfig, project_corpus
from xner.projection.translate import ApertiumTranslator
from xner.signature import signature, write_table

SECTION = "## Projection on Europarl en→es"
DEV, HELD = range(0, 400), range(400, 799)

METHODS = [
    ProjectionConfig(method="heuristic"),
    ProjectionConfig(method="heuristic-gf"),
    ProjectionConfig(method="heuristic", merge_distance=2),
    ProjectionConfig(method="ngram", solver="ilp"),
    ProjectionConfig(method="ngram", solver="greedy"),
    ProjectionConfig(method="model", solver="ilp"),
    ProjectionConfig(method="model", solver="greedy"),
    ProjectionConfig(method="heuristic+bt", refine_mode="fill"),
    ProjectionConfig(method="mark"),
]
TUNED = {"heuristic (merge_distance=2)"}  # settings chosen on the dev half (see --sweep)


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def build_aligners(gold, translator):
    """The offline aligners; the eflomal extra text is Apertium's translation of both sides of the corpus."""
    return {name: build_aligner(name, gold, translator) for name in ("eflomal", "eflomal+mt", "e5-small")}


def half_f1(gold_tags, pred, rng) -> float:
    return score([gold_tags[k] for k in rng], [pred[k] for k in rng]).f1


def run_table(gold, aligners, translator, predictor) -> pd.DataFrame:
    alignments, secs = {}, {}
    for name, aligner in aligners.items():
        t0 = time.perf_counter()
        alignments[name] = aligner.align(gold.src_tokens, gold.tgt_tokens)
        secs[name] = time.perf_counter() - t0
        print(f"aligned with {name} in {secs[name]:.1f} s", flush=True)
    table, runs = evaluate_methods(
        gold,
        alignments,
        METHODS,
        align_seconds=secs,
        predictor=predictor,
        translator=translator,
        mono_aligner=StringAligner(),
    )
    table["f1_dev_half"] = [
        half_f1(gold.tgt_tags, runs[(a, m)].tags, DEV) for a, m in zip(table.aligner, table.method, strict=True)
    ]
    table["f1_held_half"] = [
        half_f1(gold.tgt_tags, runs[(a, m)].tags, HELD) for a, m in zip(table.aligner, table.method, strict=True)
    ]
    return table, alignments


def run_timing(gold, aligners, repeats: int) -> dict[str, object]:
    """Median seconds of alignment and of each projection step on the whole corpus."""
    out: dict[str, object] = {}
    efl = aligners["eflomal"]
    out["align eflomal (799 pairs alone)"], links = _median_time(
        lambda: efl.align(gold.src_tokens, gold.tgt_tokens), repeats
    )
    out["align eflomal+mt (799 + 1,598 MT pairs)"], _ = _median_time(
        lambda: aligners["eflomal+mt"].align(gold.src_tokens, gold.tgt_tokens), repeats
    )
    e5 = e5_aligner(layer=8, extraction="itermax")
    e5.cache = False
    e5._load()  # model loading is timed apart from alignment
    e5_repeats = max(1, min(repeats, 2))
    out["align e5-small, no cache"], e5_links = _median_time(
        lambda: e5.align(gold.src_tokens, gold.tgt_tokens), e5_repeats
    )
    e5c = e5_aligner(layer=8, extraction="itermax")
    out["align e5-small, cached"], _ = _median_time(lambda: e5c.align(gold.src_tokens, gold.tgt_tokens), repeats)
    for cfg in [
        ProjectionConfig(),
        ProjectionConfig(method="ngram", solver="ilp", compare_solvers=False),
        ProjectionConfig(method="ngram", solver="greedy", compare_solvers=False),
    ]:
        t, res = _median_time(
            lambda cfg=cfg: project_corpus(gold.src_tokens, gold.src_tags, gold.tgt_tokens, cfg, alignments=e5_links),
            repeats,
        )
        out[f"project {cfg.label} (candidates + scores + matching)"] = t
    # exact vs greedy per sentence with entities, both on the same score matrices
    res = project_corpus(
        gold.src_tokens,
        gold.src_tags,
        gold.tgt_tokens,
        ProjectionConfig(method="ngram", solver="ilp"),
        alignments=e5_links,
    )
    stats = [res.matching]
    for _ in range(repeats - 1):
        stats.append(
            project_corpus(
                gold.src_tokens,
                gold.src_tags,
                gold.tgt_tokens,
                ProjectionConfig(method="ngram", solver="ilp"),
                alignments=e5_links,
            ).matching
        )
    n = stats[0].n_problems
    out["matching problems"] = n
    out["ms per sentence, exact ILP"] = 1000 * statistics.median(s.seconds_ilp for s in stats) / n
    out["ms per sentence, greedy"] = 1000 * statistics.median(s.seconds_greedy for s in stats) / n
    out["objective gap (exact - greedy) / exact"] = stats[0].gap
    out["sentences where the matchings differ"] = stats[0].n_different
    return out


def dev_sweep(gold) -> pd.DataFrame:
    """The sweep that chose settings: e5-small layer x extraction x distortion x merge_distance, dev half only."""
    from xner.modeling.encoders.e5 import e5_checkpoint
    from xner.projection.align import EmbeddingAligner, apply_distortion, extract
    from xner.projection.heuristic import project_sentence

    dev = gold.subset(DEV, name="dev half")
    rows = []
    for layer in (6, 7, 8, 9, 10):
        aligner = EmbeddingAligner(model=str(e5_checkpoint()), layer=layer, cache=False)
        sims = aligner.similarities(dev.src_tokens, dev.tgt_tokens)
        for distortion in (0.0, 0.5):
            for extraction in ("argmax", "itermax"):
                links = [extract(apply_distortion(m, distortion), extraction) for m in sims]
                for md in (1, 2):
                    pred = [
                        project_sentence(t, len(g), a, merge_distance=md).tags
                        for t, g, a in zip(dev.src_tags, dev.tgt_tokens, links, strict=True)
                    ]
                    rows.append(
                        {
                            "layer": layer,
                            "distortion": distortion,
                            "extraction": extraction,
                            "merge_distance": md,
                            "f1_dev_half": score(dev.tgt_tags, pred).f1,
                        }
                    )
        print(f"sweep: layer {layer} done", flush=True)
    return pd.DataFrame(rows).sort_values("f1_dev_half", ascending=False)


def dev_combinations(gold, aligners, alignments) -> pd.DataFrame:
    """Dev-half F1 (heuristic, published settings) of eflomal symmetrisations and of combining them with e5."""
    from xner.projection.align import StringAligner, combine, symmetrise
    from xner.projection.heuristic import project_sentence

    dev = list(DEV)

    def f1(links) -> float:
        pred = [project_sentence(gold.src_tags[k], len(gold.tgt_tokens[k]), links[k]).tags for k in dev]
        return score([gold.tgt_tags[k] for k in dev], pred).f1

    fwd, rev = aligners["eflomal+mt"].align_directional(gold.src_tokens, gold.tgt_tokens)
    e5 = alignments["e5-small"]
    rows = [{"alignment": "e5-small", "f1_dev_half": f1(e5)}]
    for sym in ("intersection", "grow-diag", "grow-diag-final-and", "union"):
        efl = [symmetrise(f, r, sym) for f, r in zip(fwd, rev, strict=True)]
        rows.append({"alignment": f"eflomal+mt {sym}", "f1_dev_half": f1(efl)})
        rows.append({"alignment": f"e5-small ∪ eflomal+mt {sym}", "f1_dev_half": f1(combine([e5, efl], "union"))})
        rows.append(
            {"alignment": f"e5-small ∩ eflomal+mt {sym}", "f1_dev_half": f1(combine([e5, efl], "intersection"))}
        )
    rows.append(
        {
            "alignment": "vote ≥2 of (e5-small, eflomal+mt fwd, eflomal+mt rev)",
            "f1_dev_half": f1(combine([e5, fwd, rev], "vote", 2)),
        }
    )
    strings = StringAligner(min_similarity=0.9).align(gold.src_tokens, gold.tgt_tokens)
    rows.append({"alignment": "e5-small ∪ string similarity ≥ 0.9", "f1_dev_half": f1(combine([e5, strings], "union"))})
    return pd.DataFrame(rows).sort_values("f1_dev_half", ascending=False)


def fmt(x: float) -> str:
    return f"{x:.3f}"


def render(
    table: pd.DataFrame | None,
    timing: dict | None,
    args,
    load: tuple[float, float, float],
    sweep: pd.DataFrame | None = None,
    combos: pd.DataFrame | None = None,
) -> str:
    lines = [SECTION, ""]
    cmd = (
        "XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_projection.py --repeats "
        f"{args.repeats}{' --sweep' if args.sweep else ''} --write"
    )
    lines += [
        f"Issue 6 (stage 03). Command: `{cmd}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, CPU only; "
        f"load average at start {load[0]:.1f}"
        + (" (other jobs shared the 2 cores, so times are upper bounds)." if load[0] > 1.5 else "."),
        "",
    ]
    if table is not None:
        lines += [
            "Strict span F1 of the English gold labels projected onto the Spanish side of the Europarl NER parallel "
            'gold (799 sentences; 95% bootstrap CI over sentences), against the Spanish gold. "dev" = sentences '
            '0-399, "held-out" = 400-798. Published anchors (mBERT-based aligners, online): heuristic + SimAlign '
            "0.907, + awesome-align 0.903; n-gram candidates + greedy 0.89; NER-model candidates 0.80.",
            "",
            "| aligner | method | P | R | F1 [95% CI] | F1 dev | F1 held-out | PER | ORG | LOC | MISC | "
            "projected / split / dropped |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in table.iterrows():
            lines.append(
                f"| {r.aligner} | {r.method} | {fmt(r.precision)} | {fmt(r.recall)} | **{fmt(r.f1)}** "
                f"[{fmt(r.f1_low)}, {fmt(r.f1_high)}] | {fmt(r.f1_dev_half)} | {fmt(r.f1_held_half)} | "
                f"{fmt(r.get('f1_PER', float('nan')))} | {fmt(r.get('f1_ORG', float('nan')))} | "
                f"{fmt(r.get('f1_LOC', float('nan')))} | {fmt(r.get('f1_MISC', float('nan')))} | "
                f"{r.projected} / {r.split} / {r.dropped} |"
            )
        best = table.sort_values("f1", ascending=False).iloc[0]
        untuned = table[~table.method.isin(TUNED)].sort_values("f1", ascending=False).iloc[0]
        lines += [
            "",
            f"Best offline: **{best.method} with {best.aligner}, F1 {fmt(best.f1)}** "
            f"(held-out half {fmt(best.f1_held_half)}); best with published settings only: {untuned.method} with "
            f"{untuned.aligner}, F1 {fmt(untuned.f1)}. Target 0.907: "
            f"{'reached' if untuned.f1 >= 0.907 else 'NOT reached'} with published settings.",
            "",
            "What was tuned, and on what: nothing in the headline row. The e5-small aligner uses SimAlign's "
            "defaults for mBERT (layer 8, IterMax) unchanged, and every method uses the published settings "
            "(merge_distance 1, length ratio 0.8). During development a sweep was run on the dev half (below; "
            "`--sweep` reruns it) while the same script also printed held-out-half F1, so the one setting taken "
            "from it — merge_distance=2, better than 1 in all 20 dev-half settings (by 0.0004-0.005 with IterMax, "
            "0.009-0.017 with argmax) and by about 0.03 on the held-out half — is listed as its own row and is "
            "not a clean held-out result. "
            "Layer and distortion differences on the dev half were within 0.007, so layer 8 was kept. eflomal "
            "symmetrisations and combinations of eflomal with e5 did not beat e5 alone on the dev half, so the "
            "table keeps eflomal's default (grow-diag-final-and). eflomal draws its seed from the OS, so its rows "
            "vary by about ±0.01 between runs. Model candidates: a CRF trained on CoNLL-2002 Spanish train "
            "(news, not parliament; no tuning). Back-translation refinement and mark-then-translate use Apertium "
            "(eng-spa) and string-similarity alignment within Spanish. The table is in "
            "results/projection/europarl_en-es.csv.",
            "",
        ]
    if sweep is not None:
        lines += [
            "Dev-half sweep of the e5-small aligner with the heuristic (best 8 of 40 settings; all in "
            "results/projection/europarl_en-es_dev_sweep.csv):",
            "",
            "| layer | distortion | extraction | merge_distance | F1 dev half |",
            "|---|---|---|---|---|",
        ]
        for _, r in sweep.head(8).iterrows():
            lines.append(f"| {r.layer} | {r.distortion} | {r.extraction} | {r.merge_distance} | {fmt(r.f1_dev_half)} |")
        default = sweep[
            (sweep.layer == 8)
            & (sweep.distortion == 0.0)
            & (sweep.extraction == "itermax")
            & (sweep.merge_distance == 1)
        ]
        if len(default):
            lines.append(f"| 8 (default) | 0.0 | itermax | 1 | {fmt(default.f1_dev_half.iloc[0])} |")
        lines.append("")
    if combos is not None:
        lines += [
            "Dev-half F1 of eflomal symmetrisations and combinations with e5-small (heuristic, published settings):",
            "",
            "| alignment | F1 dev half |",
            "|---|---|",
        ]
        lines += [f"| {r.alignment} | {fmt(r.f1_dev_half)} |" for _, r in combos.iterrows()]
        lines.append("")
    if timing is not None:
        lines += [
            f"Throughput on the 799 sentence pairs (median of {args.repeats} runs; e5 without cache median "
            f"of {max(1, min(args.repeats, 2))}):",
            "",
            "| what | value |",
            "|---|---|",
        ]
        for k, v in timing.items():
            if isinstance(v, float) and k.startswith(("align", "project")):
                lines.append(f"| {k} | {v:.2f} s ({799 / v:,.0f} sentences/s) |" if v > 0 else f"| {k} | {v} |")
            elif isinstance(v, float):
                lines.append(f"| {k} | {v:.4g} |")
            else:
                lines.append(f"| {k} | {v} |")
        lines += [
            "",
            "Target: alignment + candidates + matching on the whole set under 30 s on 2 cores. The fast "
            "pipeline (eflomal + any projection method) meets it; the e5-small alignment is the slow part "
            "(one 8-layer encoder pass over 1,598 sentences on 2 shared cores) and is cached on disk, so it "
            "is paid once per corpus.",
            "",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="runs per timing (median reported)")
    ap.add_argument("--skip-table", action="store_true", help="only time")
    ap.add_argument("--skip-timing", action="store_true", help="only the F1 table")
    ap.add_argument("--write", action="store_true", help="update the section in bench/RESULTS.md")
    ap.add_argument("--sweep", action="store_true", help="also rerun the dev-half sweep that chose settings (~5 min)")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default results/projection)")
    args = ap.parse_args(argv)
    if args.write and (args.skip_table or args.skip_timing):
        ap.error("--write rewrites the whole section: run without --skip-table/--skip-timing")
    load = os.getloadavg()
    gold = load_europarl("en", "es")
    translator = ApertiumTranslator()
    aligners = build_aligners(gold, translator)
    table = timing = None
    if not args.skip_table:
        from xner.modeling.crf import train_crf

        t0 = time.perf_counter()
        crf = train_crf(load_split("es", "train", dataset="conll2002"))
        print(f"CRF trained on CoNLL-2002 es train in {time.perf_counter() - t0:.0f} s", flush=True)
        table, alignments = run_table(gold, aligners, translator, crf.predict)
        out = args.out or results_dir() / "projection"
        sig = signature(
            data="europarl",
            split="test",
            languages=["en", "es"],
            metric="strict span F1 (IOB2)",
            seed=0,
            aligners=list(aligners),
            translator=translator.key,
            crf="conll2002-es-train",
        )
        path = write_table(table, out / "europarl_en-es.csv", sig)
        print(f"wrote {path}")
        print(table[["aligner", "method", "precision", "recall", "f1", "f1_dev_half", "f1_held_half"]].to_string())
    sweep = combos = None
    if args.sweep:
        out = args.out or results_dir() / "projection"
        sig = signature(data="europarl", split="sentences 0-399", languages=["en", "es"], seed=0, aligner="e5-small")
        sweep = dev_sweep(gold)
        print(f"wrote {write_table(sweep, out / 'europarl_en-es_dev_sweep.csv', sig)}")
        print(sweep.head(10).to_string())
        if table is not None:
            combos = dev_combinations(gold, aligners, alignments)
            print(f"wrote {write_table(combos, out / 'europarl_en-es_dev_combinations.csv', sig)}")
            print(combos.to_string())
    if not args.skip_timing:
        timing = run_timing(gold, aligners, args.repeats)
        for k, v in timing.items():
            print(f"{k}: {v}")
    text = render(table, timing, args, load, sweep, combos)
    if args.write:
        write_section(text)
        print("updated bench/RESULTS.md")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
