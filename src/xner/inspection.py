"""Stage 01, data inspection: per-language counts, label mix, span lengths, density, and per-pair overlap.

Vocabulary overlap is measured on three vocabularies of a split: all tokens, entity surfaces (the entity's
words joined by a space, with its type), and context words (tokens tagged ``O``). Tokens are compared as
written (case-sensitive), as a model's tokenizer sees them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from xner.data import label_set_of, tag_names
from xner.figures import PALETTE, plt, style
from xner.metrics import get_entities
from xner.signature import write_table


@dataclass(frozen=True)
class Vocabulary:
    """Counts of tokens, entity surfaces ``(type, surface)`` and context (``O``) words of one split."""

    tokens: Counter
    entities: Counter
    context: Counter


def vocabulary(ds: datasets.Dataset) -> Vocabulary:
    """Count the token, entity-surface and context-word vocabularies of a dataset."""
    toks: Counter = Counter()
    ents: Counter = Counter()
    ctx: Counter = Counter()
    for words, tags in zip(ds["tokens"], tag_names(ds), strict=True):
        toks.update(words)
        ctx.update(w for w, t in zip(words, tags, strict=True) if t == "O")
        ents.update((typ, " ".join(words[s:e])) for typ, s, e in get_entities(tags))
    return Vocabulary(toks, ents, ctx)


def language_stats(ds: datasets.Dataset, lang: str, split: str) -> dict[str, object]:
    """One row of per-language statistics: sentences, tokens, entities by type, density, unique surfaces."""
    types = label_set_of(ds).types
    n_sent = len(ds)
    if n_sent == 0:
        raise ValueError(f"{lang}/{split}: empty split (no sentences)")
    n_tok = 0
    by_type: Counter = Counter()
    lengths: list[int] = []
    surfaces: set[tuple[str, str]] = set()
    with_ent = 0
    for words, tags in zip(ds["tokens"], tag_names(ds), strict=True):
        n_tok += len(words)
        ents = get_entities(tags)
        with_ent += bool(ents)
        for typ, s, e in ents:
            by_type[typ] += 1
            lengths.append(e - s)
            surfaces.add((typ, " ".join(words[s:e])))
    n_ent = sum(by_type.values())
    row: dict[str, object] = {
        "lang": lang,
        "split": split,
        "sentences": n_sent,
        "tokens": n_tok,
        "entities": n_ent,
        "entities_per_sentence": n_ent / n_sent,
        "sentences_with_entities": with_ent / n_sent,
        "mean_span_length": float(np.mean(lengths)) if lengths else 0.0,
        "unique_entity_surfaces": len(surfaces),
    }
    for t in types:
        row[f"n_{t}"] = by_type[t]
        row[f"share_{t}"] = by_type[t] / n_ent if n_ent else 0.0
    return row


def span_lengths(ds: datasets.Dataset, lang: str, split: str) -> pd.DataFrame:
    """Entity span-length distribution as a tidy table ``lang, split, type, length, count``."""
    c: Counter = Counter()
    for tags in tag_names(ds):
        c.update((typ, e - s) for typ, s, e in get_entities(tags))
    rows = [{"lang": lang, "split": split, "type": t, "length": n, "count": k} for (t, n), k in sorted(c.items())]
    return pd.DataFrame(rows, columns=["lang", "split", "type", "length", "count"])


def _jaccard(a: Counter, b: Counter) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def _coverage(target: Counter, source: Counter) -> float:
    """Share of target occurrences (tokens, not types) whose item occurs in the source."""
    total = sum(target.values())
    return sum(n for k, n in target.items() if k in source) / total if total else 0.0


def pair_overlap(
    source_train: datasets.Dataset, target_test: datasets.Dataset, source: str, target: str
) -> dict[str, object]:
    """Token-, entity- and context-vocabulary overlap of a pair: Jaccard and target-test coverage by source train.

    ``*_coverage`` is the share of target-test occurrences (running tokens, entity mentions, context words)
    that also occur in the source training data — what the study found transfer F1 to track.
    """
    vs, vt = vocabulary(source_train), vocabulary(target_test)
    return {
        "source": source,
        "target": target,
        "token_jaccard": _jaccard(vs.tokens, vt.tokens),
        "entity_jaccard": _jaccard(vs.entities, vt.entities),
        "context_jaccard": _jaccard(vs.context, vt.context),
        "token_coverage": _coverage(vt.tokens, vs.tokens),
        "entity_coverage": _coverage(vt.entities, vs.entities),
        "context_coverage": _coverage(vt.context, vs.context),
    }


def inspect_languages(loaded: dict[tuple[str, str], datasets.Dataset]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statistics and span lengths for every ``(lang, split) → dataset`` given; returns (stats, lengths)."""
    stats = pd.DataFrame([language_stats(ds, lang, split) for (lang, split), ds in loaded.items()])
    lengths = pd.concat([span_lengths(ds, lang, split) for (lang, split), ds in loaded.items()], ignore_index=True)
    return stats, lengths


# ---------------------------------------------------------------------------------------------- figures


def plot_label_mix(stats: pd.DataFrame, types: Sequence[str]):
    """Stacked bars of the entity-type mix per language and split."""
    with style():
        fig, ax = plt.subplots(figsize=(max(3.0, 0.5 * len(stats) + 1.5), 2.8))
        labels = [f"{r.lang}/{r.split}" for r in stats.itertuples()]
        bottom = np.zeros(len(stats))
        for i, t in enumerate(types):
            vals = stats[f"share_{t}"].to_numpy(dtype=float)
            ax.bar(labels, vals, bottom=bottom, label=t, color=PALETTE[i % len(PALETTE)])
            bottom += vals
        ax.set_ylabel("share of entities")
        ax.set_ylim(0, 1)
        ax.legend(ncols=len(types), loc="upper center", bbox_to_anchor=(0.5, 1.18), frameon=False)
        ax.tick_params(axis="x", rotation=60)
    return fig


def plot_span_lengths(lengths: pd.DataFrame, max_length: int = 8):
    """Span-length distributions (share of entities by length) per language/split, one line each."""
    with style():
        fig, ax = plt.subplots(figsize=(4.0, 2.8))
        for (lang, split), grp in lengths.groupby(["lang", "split"], sort=True):
            c = grp.groupby("length")["count"].sum()
            c = c.reindex(range(1, max_length + 1), fill_value=0)
            ax.plot(c.index, c.to_numpy() / max(1, grp["count"].sum()), marker="o", ms=3, label=f"{lang}/{split}")
        ax.set_xlabel(f"span length (words; ≥{max_length} cut)")
        ax.set_ylabel("share of entities")
        ax.legend(frameon=False)
    return fig


def write_outputs(
    stats: pd.DataFrame, lengths: pd.DataFrame, overlap: pd.DataFrame, out_dir: Path, sig: dict
) -> list[Path]:
    """Write the three stage-01 tables under ``out_dir`` with the run's signature."""
    return [
        write_table(stats, out_dir / "language_stats.csv", sig),
        write_table(lengths, out_dir / "span_lengths.csv", sig),
        write_table(overlap, out_dir / "pair_overlap.csv", sig),
    ]
