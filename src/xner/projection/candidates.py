"""Target candidates and candidate–entity scores for matching-based projection.

Candidates are target spans ``(start, end)`` (end exclusive): every n-gram up to a length
(:func:`ngram_candidates`), or the spans a NER model predicts on the target sentence
(:func:`model_candidates`; any predictor callable ``tokens -> IOB2 tags``, its types are ignored because
the label comes from the source entity).

Scores of a source entity ``e`` and a candidate ``c`` (all in [0, 1]):

* :func:`dice_scores` — ``2 * |aligned pairs between e and c| / (|e| + |c|)`` over a word alignment;
* :func:`string_scores` — string similarity of the entity and candidate texts (names kept across
  languages, such as "Prodi" or "ISO 9002"), after lower-casing and stripping diacritics;
* :func:`likelihood_scores` — a translation model's probability of the candidate given the entity,
  ``exp(mean log-probability per target token)``, where a :class:`TranslationScorer` is at hand.

:func:`combined_scores` adds weighted scores; weights are parameters of the projection method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from xner.projection.align import normalise
from xner.projection.spans import Entity, Span, entities_from_tags

Predictor = Callable[[list[list[str]]], list[list[str]]]


def ngram_candidates(n_words: int, max_len: int) -> list[Span]:
    """All spans of 1..``max_len`` words in a sentence of ``n_words`` words, by start then length."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    return [(s, e) for s in range(n_words) for e in range(s + 1, min(n_words, s + max_len) + 1)]


def model_candidates(predictor: Predictor, sentences: Sequence[Sequence[str]]) -> list[list[Span]]:
    """Spans a NER model predicts on each target sentence (types dropped; the source entity gives it)."""
    tags = predictor([list(s) for s in sentences])
    if len(tags) != len(sentences):
        raise ValueError(f"predictor returned {len(tags)} tag sequences for {len(sentences)} sentences")
    out = []
    for k, (s, t) in enumerate(zip(sentences, tags, strict=True)):
        if len(t) != len(s):
            raise ValueError(f"predictor returned {len(t)} tags for the {len(s)} words of sentence {k}")
        out.append(sorted({e.span for e in entities_from_tags(t)}))
    return out


def dice_scores(
    entities: Sequence[Entity], candidates: Sequence[Span], alignment: Iterable[tuple[int, int]]
) -> np.ndarray:
    """Entities x candidates matrix of aligned-pair Dice coefficients."""
    links = list(alignment)
    out = np.zeros((len(entities), len(candidates)))
    if not links or not candidates:
        return out
    src = np.array([i for i, _ in links])
    tgt = np.array([j for _, j in links])
    starts = np.array([c[0] for c in candidates])
    ends = np.array([c[1] for c in candidates])
    lens = ends - starts
    for k, ent in enumerate(entities):
        mask = (src >= ent.start) & (src < ent.end)
        if not mask.any():
            continue
        js = tgt[mask]
        inside = (js[None, :] >= starts[:, None]) & (js[None, :] < ends[:, None])
        out[k] = 2.0 * inside.sum(axis=1) / (len(ent) + lens)
    return out


def string_scores(
    entities: Sequence[Entity], candidates: Sequence[Span], src_tokens: Sequence[str], tgt_tokens: Sequence[str]
) -> np.ndarray:
    """Entities x candidates matrix of normalised string similarity (rapidfuzz Indel) of their texts."""
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cdist

    if not entities or not candidates:
        return np.zeros((len(entities), len(candidates)))
    a = [normalise(" ".join(src_tokens[e.start : e.end])) for e in entities]
    b = [normalise(" ".join(tgt_tokens[s:e])) for s, e in candidates]
    return np.asarray(cdist(a, b, scorer=Indel.normalized_similarity), dtype=float)


@runtime_checkable
class TranslationScorer(Protocol):
    """A translation model that scores ``log p(target | source)`` per target token, averaged."""

    def mean_log_prob(self, sources: Sequence[str], targets: Sequence[str], src: str, tgt: str) -> list[float]:
        """Mean log-probability per target token of each target text given its source text."""
        ...


def likelihood_scores(
    scorer: TranslationScorer,
    entities: Sequence[Entity],
    candidates: Sequence[Span],
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    *,
    src_lang: str,
    tgt_lang: str,
) -> np.ndarray:
    """Entities x candidates matrix of ``exp(mean log p(candidate | entity))`` under a translation model."""
    if not entities or not candidates:
        return np.zeros((len(entities), len(candidates)))
    srcs, tgts = [], []
    for e in entities:
        for s, t in candidates:
            srcs.append(" ".join(src_tokens[e.start : e.end]))
            tgts.append(" ".join(tgt_tokens[s:t]))
    lp = np.asarray(scorer.mean_log_prob(srcs, tgts, src_lang, tgt_lang), dtype=float)
    return np.exp(lp).reshape(len(entities), len(candidates))


def combined_scores(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted sum of score matrices; every weight must name a computed score and vice versa."""
    if set(parts) != set(weights):
        raise ValueError(f"score parts {sorted(parts)} do not match weights {sorted(weights)}")
    shapes = {p.shape for p in parts.values()}
    if len(shapes) != 1:
        raise ValueError(f"score matrices differ in shape: {shapes}")
    return sum(weights[k] * parts[k] for k in sorted(parts))
