"""IterMax before/after SimAlign's rescaling, and word vs sub-word alignment, on Europarl en→es (e5-small).

One encoding of the corpus gives the raw cosine matrices; from them, side by side:

* ``old``: xner's earlier IterMax, which shifted similarities by ``sim - min + 1e-6`` inside the extraction —
  exactly ``itermax_alignment(cos - cos.min() + 1e-6)`` (the first argmax round is shift-invariant);
* ``simalign``: IterMax on SimAlign's ``(cos + 1) / 2`` — what :class:`EmbeddingAligner` now does (and what the
  ``simalign`` package computes, as tests/test_projection_simalign.py pins);
* ``simalign, bpe``: the same over sub-word pieces, links mapped to words (SimAlign's default ``token_type``).

Each alignment is projected with the word-alignment heuristic (published settings) and scored against the
Spanish gold (strict span F1, 95 % bootstrap CI over sentences; paired bootstrap of each against ``old``).

    XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_itermax.py --write
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner.metrics import bootstrap_ci, paired_bootstrap
from xner.modeling.encoders.e5 import e5_checkpoint
from xner.projection.align import EmbeddingAligner, extract
from xner.projection.evaluate import load_europarl
from xner.projection.heuristic import project_sentence

SECTION = "## IterMax: SimAlign's rescaling and sub-word alignment (Europarl en→es, e5-small)"


def _links_word(aligner: EmbeddingAligner, gold, n: int) -> dict[str, list]:
    raw = EmbeddingAligner(model=aligner.model, layer=aligner.layer, rescale=False, cache=False)
    cos = raw.similarities(gold.src_tokens[:n], gold.tgt_tokens[:n])
    return {
        "old (sim − min + 1e-6), words": [extract(c - c.min() + 1e-6, "itermax") for c in cos],
        "SimAlign (cos + 1) / 2, words": [extract((c + 1.0) / 2.0, "itermax") for c in cos],
    }


def run(n: int) -> tuple[list[dict], dict]:
    """Alignments of the first ``n`` sentence pairs under each variant, their projection F1 and link counts."""
    gold = load_europarl("en", "es")
    n = min(n, len(gold.src_tokens))
    model = str(e5_checkpoint())
    t0 = time.perf_counter()
    runs = _links_word(EmbeddingAligner(model=model, layer=8), gold, n)
    bpe = EmbeddingAligner(model=model, layer=8, token_type="bpe", cache=False)
    runs["SimAlign (cos + 1) / 2, sub-words (bpe)"] = bpe.align(gold.src_tokens[:n], gold.tgt_tokens[:n])
    seconds = time.perf_counter() - t0
    gold_tags = gold.tgt_tags[:n]
    preds = {
        k: [project_sentence(gold.src_tags[i], len(gold.tgt_tokens[i]), a).tags for i, a in enumerate(v)]
        for k, v in runs.items()
    }
    base = next(iter(runs))
    rows = []
    for k, v in runs.items():
        ci = bootstrap_ci(gold_tags, preds[k], seed=0)
        pb = paired_bootstrap(gold_tags, preds[k], preds[base], seed=0)
        rows.append(
            {
                "variant": k,
                "links": sum(len(a) for a in v),
                "sentences differing from old": sum(a != b for a, b in zip(v, runs[base], strict=True)),
                "f1": ci.point,
                "low": ci.low,
                "high": ci.high,
                "delta": pb.delta,
                "d_low": pb.low,
                "d_high": pb.high,
                "p": pb.p_value,
            }
        )
    return rows, {"n": n, "seconds": seconds}


def render(rows: list[dict], meta: dict, load: float) -> str:
    """The RESULTS.md section."""
    lines = [
        SECTION,
        "",
        "Issue 20. Command: `XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_itermax.py "
        f"--n {meta['n']} --write` (deterministic: no sampling besides the seeded bootstrap).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, CPU only; load average at start {load:.1f}. "
        f"First {meta['n']} Europarl en→es sentence pairs; e5-small layer 8, IterMax (α = 0.9, 2 rounds), no "
        "distortion; projection by the word-alignment heuristic (merge distance 1, length ratio > 0.8).",
        "",
        "| variant | links | sentences differing from old | F1 [95% CI] | ΔF1 vs old [95% CI], p |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['links']} | {r['sentences differing from old']} | **{r['f1']:.3f}** "
            f"[{r['low']:.3f}, {r['high']:.3f}] | {r['delta']:+.3f} [{r['d_low']:+.3f}, {r['d_high']:+.3f}], "
            f"p = {r['p']:.2f} |"
        )
    lines += [
        "",
        '`EmbeddingAligner` now rescales as SimAlign does (row 2); `token_type="bpe"` is the option of row 3. '
        "The old shift (row 1) is gone from the code; its row is recomputed here from the same cosine matrices.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run, print the section, and write it with ``--write``."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=799, help="sentence pairs (from the start of the corpus)")
    ap.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows, meta = run(args.n)
    text = render(rows, meta, load)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
